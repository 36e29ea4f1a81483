# One image for every service, worker, bus process and beat; the command picks the role.
# Browser assets (socket.io-client) come from the npm registry in a build stage; nothing third-party is vendored.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 NODE_MODULES_DIR=/app/node_modules
WORKDIR /app
# Tesseract for OCR of image posters (posters worker).
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY --from=assets /assets/node_modules ./node_modules
# The volumes mount on these paths: a named volume copies their owner on first use, so the app user can write.
RUN pip install --no-cache-dir . && useradd --create-home app \
    && mkdir -p /data/storage /data/beat && chown -R app /data
USER app

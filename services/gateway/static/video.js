// The 1-1 video call of a booked chat room: WebRTC peer to peer, signalling over the room page's Socket.IO
// connection (window.insightChat.socket, namespace /chat). The server relays each signal only to the other
// participant's room page.
//
// The call: one side presses "Start video call" (its camera starts, the other side is told it is ringing); the other
// presses "Join the call". Both then create their RTCPeerConnection and add their tracks, so both may want to send
// an offer at the same moment: "perfect negotiation" settles it. The polite side (the larger user id; the server
// says which) gives way on a collision, the impolite side ignores the colliding offer.
"use strict";

(function () {
  const SIGNALS = ["video_state", "video_offer", "video_answer", "video_ice", "video_hangup"];
  const SEND_TIMEOUT_MS = 10000;

  function parseServers(raw) {
    try {
      const servers = JSON.parse(raw || "[]");
      return Array.isArray(servers) ? servers : [];
    } catch (e) {
      return [];
    }
  }

  function init() {
    const ui = document.getElementById("video-ui");
    const section = document.getElementById("video-call");
    const root = document.getElementById("chat-room");
    const chat = window.insightChat;
    if (!ui || !section || !root || !chat?.socket) return;
    const { socket, roomId } = chat;
    const peerName = ui.dataset.peerName || "The other person";
    const iceServers = parseServers(ui.dataset.iceServers);
    const endsAt = ui.dataset.endsAt ? new Date(ui.dataset.endsAt) : null;

    // B1's room template leaves an empty section for the call; the markup comes from chat/_video.html.
    section.append(ui);
    section.setAttribute("aria-labelledby", "video-title");
    section.hidden = false;
    root.classList.add("video-ready");

    const $ = (id) => document.getElementById(id);
    const statusBox = $("video-status");
    const stage = $("video-stage");
    const remoteVideo = $("video-remote");
    const localVideo = $("video-local");
    const remoteNote = $("video-remote-note");
    const localNote = $("video-local-note");
    const buttons = {
      start: $("video-start"),
      accept: $("video-accept"),
      decline: $("video-decline"),
      camera: $("video-camera"),
      mic: $("video-mic"),
      hangup: $("video-hangup"),
    };

    const call = {
      phase: "idle",
      polite: false,
      ready: false, // video_join acknowledged: the server relays the other side's signals to this socket
      pc: null,
      local: null,
      makingOffer: false,
      ignoreOffer: false,
      pendingIce: [], // candidates that came before the description they belong to (events may overtake)
      camera: true,
      mic: true,
      peerCalling: false, // their "ringing" came while our camera was starting for our own call
      collisions: 0, // offers that crossed (glare), settled by perfect negotiation
      renegotiations: 0, // offers made again because nothing had been exchanged yet (see watchNegotiation)
    };

    // ---- what is shown -------------------------------------------------------------------------------------------
    // Which buttons each phase offers; everything else is hidden.
    const CONTROLS = {
      idle: ["start"],
      blocked: ["start"],
      refused: [],
      starting: ["hangup"],
      calling: ["camera", "mic", "hangup"],
      ringing: ["accept", "decline"],
      connecting: ["camera", "mic", "hangup"],
      connected: ["camera", "mic", "hangup"],
    };

    function show(phase, text) {
      call.phase = phase;
      ui.dataset.phase = phase;
      if (text !== undefined) statusBox.textContent = text;
      const visible = CONTROLS[phase] || [];
      Object.entries(buttons).forEach(([name, button]) => (button.hidden = !visible.includes(name)));
      buttons.start.disabled = !call.ready;
      const inCall = ["starting", "calling", "connecting", "connected"].includes(phase);
      stage.hidden = !inCall;
      root.classList.toggle("video-active", inCall);
    }

    function setPeerState(state) {
      ui.dataset.peerState = state;
    }

    // Signals leave one at a time, each after the server acknowledged the one before: the server handles events
    // concurrently, so without this an answer could overtake the offer it follows and the other side would apply
    // a stale offer. An acknowledged signal is already in the Redis queue, which delivers in order.
    let outgoing = Promise.resolve();
    function send(event, payload) {
      const body = { room_id: roomId, ...payload };
      outgoing = outgoing.then(
        () =>
          new Promise((resolve) => {
            socket.timeout(SEND_TIMEOUT_MS).emit(event, body, (err, ack) => {
              resolve();
              if (err || ack?.ok) return; // no answer in time: the next signal goes anyway
              const code = ack?.error?.code;
              if (["cancelled", "closed", "ended", "no_video", "not_found"].includes(code)) {
                endCall();
                show("refused", window.insightPage.sentence(ack.error.message));
              }
            });
          })
      );
    }

    // ---- camera and microphone -----------------------------------------------------------------------------------
    async function startMedia() {
      if (call.local) return true;
      if (!navigator.mediaDevices?.getUserMedia) {
        show("blocked", "Camera blocked: this browser cannot use a camera here (a video call needs https).");
        return false;
      }
      try {
        call.local = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      } catch (err) {
        const words = {
          NotAllowedError: "Camera blocked: allow the camera and microphone for this site, then try again.",
          NotFoundError: "Camera blocked: no camera or microphone was found.",
          NotReadableError: "Camera blocked: another program is using the camera.",
        };
        show("blocked", words[err?.name] || "Camera blocked: the camera could not start.");
        return false;
      }
      localVideo.srcObject = call.local;
      call.camera = true;
      call.mic = true;
      updateToggles();
      return true;
    }

    function stopMedia() {
      call.local?.getTracks().forEach((track) => track.stop());
      call.local = null;
      localVideo.srcObject = null;
    }

    function updateToggles() {
      buttons.camera.textContent = call.camera ? "Turn camera off" : "Turn camera on";
      buttons.mic.textContent = call.mic ? "Mute microphone" : "Unmute microphone";
      localNote.textContent = [call.camera ? "" : "Camera off", call.mic ? "" : "Muted"].filter(Boolean).join(", ");
      ui.dataset.camera = call.camera ? "on" : "off";
      ui.dataset.microphone = call.mic ? "on" : "off";
    }

    function toggle(kind) {
      if (!call.local) return;
      if (kind === "camera") call.camera = !call.camera;
      else call.mic = !call.mic;
      // track.enabled: the track keeps flowing (black frames, silence), so nothing has to be renegotiated.
      call.local.getVideoTracks().forEach((t) => (t.enabled = call.camera));
      call.local.getAudioTracks().forEach((t) => (t.enabled = call.mic));
      updateToggles();
      send("video_state", { camera: call.camera, microphone: call.mic });
    }

    // ---- the peer connection (perfect negotiation) ---------------------------------------------------------------
    function createPeer() {
      if (call.pc) return call.pc;
      const pc = new RTCPeerConnection({ iceServers });
      call.pc = pc;
      call.makingOffer = false;
      call.ignoreOffer = false;
      call.pendingIce = [];
      call.local.getTracks().forEach((track) => pc.addTrack(track, call.local));

      const makeOffer = async () => {
        try {
          call.makingOffer = true;
          await pc.setLocalDescription();
          if (pc !== call.pc) return;
          const { type, sdp } = pc.localDescription;
          send(type === "offer" ? "video_offer" : "video_answer", { description: { type, sdp } });
        } catch (err) {
          console.warn("video: could not make an offer", err);
        } finally {
          call.makingOffer = false;
        }
      };
      pc.onnegotiationneeded = makeOffer;
      watchNegotiation(pc, makeOffer);
      pc.onicecandidate = ({ candidate }) => {
        if (candidate && candidate.candidate) send("video_ice", { candidate: candidate.toJSON() });
      };
      pc.ontrack = ({ track, streams }) => {
        const stream = streams[0] || new MediaStream([track]);
        if (remoteVideo.srcObject !== stream) remoteVideo.srcObject = stream;
        remoteVideo.play().catch(() => {}); // both sides clicked a button, so the browser lets it play
      };
      pc.onconnectionstatechange = () => {
        if (pc !== call.pc) return;
        setPeerState(pc.connectionState);
        if (pc.connectionState === "connected") {
          show("connected", `Connected with ${peerName}.`);
          send("video_state", { camera: call.camera, microphone: call.mic }); // toggles set before connecting
        } else if (pc.connectionState === "disconnected") {
          statusBox.textContent = "The connection is interrupted; trying to get it back…";
        } else if (pc.connectionState === "failed") {
          statusBox.textContent = "The connection failed; trying again…";
          pc.restartIce(); // a new offer with fresh candidates (through onnegotiationneeded)
        }
      };
      setPeerState(pc.connectionState);
      return pc;
    }

    // A peer connection that has exchanged nothing a few seconds after it was made (still "stable" and "new": an
    // offer was lost, dropped on the other side, or never made because negotiationneeded did not fire) offers
    // again, a few times; perfect negotiation settles it if both sides do.
    const RENEGOTIATE_AFTER_MS = 4000;
    const MAX_RENEGOTIATIONS = 5;
    function watchNegotiation(pc, makeOffer) {
      let tries = 0;
      const timer = setInterval(() => {
        const idle = pc.signalingState === "stable" && pc.iceConnectionState === "new" && !call.makingOffer;
        if (pc !== call.pc || pc.connectionState === "connected" || pc.connectionState === "closed") {
          clearInterval(timer);
        } else if (idle && tries < MAX_RENEGOTIATIONS) {
          tries += 1;
          call.renegotiations += 1;
          makeOffer();
        }
      }, RENEGOTIATE_AFTER_MS);
    }

    async function onDescription(description) {
      const pc = call.pc;
      if (!pc) return;
      try {
        const collision = description.type === "offer" && (call.makingOffer || pc.signalingState !== "stable");
        if (collision) call.collisions += 1;
        call.ignoreOffer = !call.polite && collision;
        if (call.ignoreOffer) return;
        await pc.setRemoteDescription(description); // the polite side rolls its own offer back implicitly
        for (const candidate of call.pendingIce.splice(0)) await addIce(pc, candidate);
        if (description.type === "offer") {
          await pc.setLocalDescription();
          const { type, sdp } = pc.localDescription;
          send("video_answer", { description: { type, sdp } });
        }
      } catch (err) {
        console.warn("video: could not apply a description", err);
      }
    }

    async function addIce(pc, candidate) {
      try {
        await pc.addIceCandidate(candidate);
      } catch (err) {
        if (!call.ignoreOffer) console.warn("video: could not add a candidate", err);
      }
    }

    function onCandidate(candidate) {
      const pc = call.pc;
      if (!pc) return;
      if (!pc.remoteDescription) call.pendingIce.push(candidate);
      else addIce(pc, candidate);
    }

    function endCall() {
      if (call.pc) {
        call.pc.onconnectionstatechange = null;
        call.pc.close();
        call.pc = null;
      }
      setPeerState("closed");
      stopMedia();
      remoteVideo.srcObject = null;
      remoteNote.textContent = "";
      call.peerCalling = false;
      delete ui.dataset.remoteCamera;
    }

    // ---- the call's steps ------------------------------------------------------------------------------------------
    async function startCall() {
      show("starting", "Starting your camera…");
      if (!(await startMedia())) return;
      if (call.peerCalling) {
        call.peerCalling = false;
        connect(); // they called us meanwhile: we both want it
        return;
      }
      show("calling", `Calling ${peerName}…`);
      send("video_state", { state: "ringing" });
    }

    async function acceptCall() {
      show("starting", "Starting your camera…");
      if (!(await startMedia())) {
        send("video_state", { state: "unavailable" });
        return;
      }
      connect();
    }

    function connect() {
      createPeer();
      show("connecting", `Connecting to ${peerName}…`);
      send("video_state", { state: "accepted" });
    }

    function hangUp(reason) {
      if (call.phase === "ringing") send("video_state", { state: "declined" });
      else send("video_hangup", { reason: reason || "hangup" });
      endCall();
    }

    // ---- what the other side sends ---------------------------------------------------------------------------------
    async function onState(data) {
      if (data.state === "ringing") {
        if (call.phase === "calling") {
          connect(); // both pressed "Start" at once: that is a yes from each side
        } else if (call.phase === "connecting" || call.phase === "connected") {
          // They reloaded their page and call again: start over with the camera already on.
          endPeerOnly();
          connect();
        } else if (call.phase === "starting") {
          call.peerCalling = true; // our own call is about to start: it becomes the answer
        } else {
          show("ringing", `${peerName} is calling you.`);
        }
      } else if (data.state === "accepted") {
        if (call.phase === "calling") {
          createPeer();
          show("connecting", `Connecting to ${peerName}…`);
        }
      } else if (data.state === "declined" || data.state === "unavailable" || data.state === "busy") {
        if (call.phase === "calling" || call.phase === "connecting") {
          endCall();
          const words = {
            declined: `${peerName} declined the call.`,
            unavailable: `${peerName}'s camera could not start.`,
            busy: `${peerName} is busy; try again in a moment.`,
          };
          show("idle", words[data.state]);
        } else if (call.phase === "ringing" && data.state === "declined") {
          show("idle", `${peerName} stopped calling.`);
        }
      }
      if (typeof data.camera === "boolean") {
        ui.dataset.remoteCamera = data.camera ? "on" : "off";
        remoteNote.textContent = data.camera ? "" : `${peerName} turned the camera off.`;
      }
      if (typeof data.microphone === "boolean") ui.dataset.remoteMicrophone = data.microphone ? "on" : "off";
    }

    function endPeerOnly() {
      if (!call.pc) return;
      call.pc.onconnectionstatechange = null;
      call.pc.close();
      call.pc = null;
      remoteVideo.srcObject = null;
    }

    async function onOffer(data) {
      // An offer while "calling": their "accepted" was overtaken by the offer that followed it.
      if (call.phase === "calling") {
        createPeer();
        show("connecting", `Connecting to ${peerName}…`);
      }
      await onDescription(data.description);
    }

    function onHangup(data) {
      if (call.phase === "idle" || call.phase === "refused") return;
      const words = call.phase === "ringing" ? `${peerName} stopped calling.` : "The other person hung up.";
      endCall();
      show("idle", data.reason === "ended" ? "The chat's time is over: the call ended." : words);
    }

    const handlers = {
      video_state: onState,
      video_offer: onOffer,
      video_answer: (data) => onDescription(data.description),
      video_ice: (data) => onCandidate(data.candidate),
      video_hangup: onHangup,
    };
    // Handled one after the other too: applying a description takes several awaits, and the next signal must see
    // its result.
    let incoming = Promise.resolve();
    SIGNALS.forEach((event) =>
      socket.on(event, (data) => {
        if (data?.room_id !== roomId) return;
        incoming = incoming
          .then(() => handlers[event](data))
          .catch((err) => console.warn(`video: ${event} failed`, err));
      })
    );

    // ---- joining the signalling (again after every reconnect) ----------------------------------------------------
    function join() {
      socket.emit("video_join", { room_id: roomId }, (ack) => {
        if (!ack?.ok) {
          call.ready = false;
          show("refused", window.insightPage.sentence(`Video calls are not available: ${ack?.error?.message || "refused"}.`));
          return;
        }
        call.ready = true;
        call.polite = Boolean(ack.polite);
        if (call.phase === "idle" || call.phase === "blocked") show(call.phase);
      });
    }
    socket.on("connect", join);
    if (socket.connected) join();

    buttons.start.addEventListener("click", startCall);
    buttons.accept.addEventListener("click", acceptCall);
    buttons.decline.addEventListener("click", () => {
      send("video_state", { state: "declined" });
      show("idle", "You declined the call.");
    });
    buttons.hangup.addEventListener("click", () => {
      hangUp("hangup");
      show("idle", "You hung up.");
    });
    buttons.camera.addEventListener("click", () => toggle("camera"));
    buttons.mic.addEventListener("click", () => toggle("mic"));
    window.addEventListener("pagehide", () => {
      if (call.phase !== "idle" && call.phase !== "refused" && call.phase !== "blocked") hangUp("left");
    });

    // The server stops relaying at the slot's end; end a call still going then.
    if (endsAt && !Number.isNaN(endsAt.getTime())) {
      const timer = window.setInterval(() => {
        if (Date.now() < endsAt.getTime()) return;
        window.clearInterval(timer);
        if (call.phase !== "idle" && call.phase !== "refused") hangUp("ended");
        show("refused", "The chat's time is over: no more video calls.");
      }, 1000);
    }

    // For the browser tests and for debugging in the console: the live peer connection.
    window.insightVideo = {
      peer: () => call.pc,
      phase: () => call.phase,
      collisions: () => call.collisions,
      renegotiations: () => call.renegotiations,
    };
    show("idle");
  }

  document.addEventListener("DOMContentLoaded", init);
})();

-- One database per service: each service owns its data and never reads another's tables.
CREATE DATABASE gateway;
CREATE DATABASE posters;
CREATE DATABASE matching;
CREATE DATABASE notify;

# syntax=docker/dockerfile:1
#
# pimbot container image: a release build on Debian bookworm, run on distroless (glibc, no shell,
# non-root uid 65532). TLS uses the Mozilla roots compiled into the binary (webpki-roots), so no
# CA bundle is required; the distroless image ships one anyway.
#
#   docker build -t pimbot:dev .
#   docker run --rm -p 8080:8080 -v $PWD/pimbot.toml:/etc/pimbot/pimbot.toml:ro \
#     -e PIMBOT_DATABASE_URL=postgres://… pimbot:dev

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Reported by the pimbot_build_info metric; pass --build-arg PIMBOT_GIT_COMMIT=$(git rev-parse HEAD).
ARG PIMBOT_GIT_COMMIT=unknown
# Cache mounts keep the registry and compiled dependencies between builds (BuildKit).
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    # No default features: the image carries neither `pimbot demo` nor any fake server.
    cargo build --release --locked --no-default-features --bin pimbot \
    && cp target/release/pimbot /pimbot

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="pimbot" \
      org.opencontainers.image.description="Privileged Identity Management for Slack and Discord" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /pimbot /usr/local/bin/pimbot
USER 65532:65532
ENV PIMBOT_CONFIG=/etc/pimbot/pimbot.toml
# 8080: chat routes and webhooks (behind the ingress); 9090: /metrics and /admin/reload.
EXPOSE 8080 9090
# The config must listen on 0.0.0.0:8080 inside the container.
ENTRYPOINT ["/usr/local/bin/pimbot"]
CMD ["serve", "--log-format", "json"]

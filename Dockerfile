# BioGPU Stream service image.
#   CPU:  docker build -t biogpu .
#   CUDA: docker build --build-arg BASE=nvidia/cuda:13.0.0-devel-ubuntu24.04 -t biogpu:cuda .
#         docker run --gpus all ... biogpu:cuda
# (Not built in this project's CI: its machines have no Docker engine.)
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG DENO_VERSION=2.9.6
ENV DEBIAN_FRONTEND=noninteractive \
    DENO_DIR=/opt/deno
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates make gcc libc6-dev libisal-dev nodejs npm \
      resfinder-db resfinder-example \
 && npm install -g deno@${DENO_VERSION} \
 && rm -rf /var/lib/apt/lists/* /root/.npm
WORKDIR /app
COPY deno.json deno.lock ./
COPY cuda/ cuda/
RUN make -s -C cuda
COPY . .
# npm packages into DENO_DIR (root's, readable by all): `nobody`'s HOME is /nonexistent, and with Deno's
# default cache there every start would download them, and fail where the lab's network is closed.
RUN deno install --frozen && deno cache main.ts && chmod -R a+rX /opt/deno \
 && mkdir -p /var/cache/biogpu && chown nobody:nogroup /var/cache/biogpu
ENV REFERENCE_DB_PATH=/usr/share/resfinder/db \
    RESISTANCE_DB_PATH=/usr/share/doc/resfinder/examples/db_pointfinder \
    DB_CACHE_DIR=/var/cache/biogpu
EXPOSE 8765 8001
HEALTHCHECK --interval=30s --timeout=5s CMD deno eval "const port = Deno.env.get('HTTP_PORT') || '8001'; \
  const r = await fetch('http://127.0.0.1:' + port + '/health'); Deno.exit(r.ok ? 0 : 1)"
USER nobody
ENTRYPOINT ["deno", "run", "-A", "--cached-only", "main.ts"]
CMD ["serve"]

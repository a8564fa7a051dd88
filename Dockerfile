# The fipsgate frontend image: one static binary FROM scratch, for every
# platform of hack/frontend-platforms. The build stage runs on the build
# platform and cross-compiles (hack/build-fipsgate.sh), so a multi-platform
# build emulates nothing. This is the publishable build. Where no image can
# be pulled, `make frontend-image` replaces the `build` stage with a named
# context holding binaries built on the host by the same script, one at
# out/<platform>/fipsgate (--build-context build=...), so this same file
# produces the image.
#
# Build-args: VERSION (the release's tag, vX.Y.Z; linked in and labelled),
# REVISION (the commit), SOURCE_DATE_EPOCH (the commit's time: with the
# image exporter's rewrite-timestamp=true, an unchanged rebuild has the same
# digest).
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-trixie AS build
WORKDIR /src
ARG TARGETPLATFORM
ARG VERSION
RUN --mount=target=. \
    --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=cache,target=/go/pkg/mod \
    hack/build-fipsgate.sh "$TARGETPLATFORM" "/out/$TARGETPLATFORM/fipsgate" "$VERSION"

FROM scratch
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd"
# No org.opencontainers.image.licenses: the repository states no license yet.
ARG VERSION
ARG REVISION
LABEL org.opencontainers.image.title="fipsgate" \
      org.opencontainers.image.description="A BuildKit Dockerfile frontend that proves an image enforces FIPS 140-3 cryptography and attests it" \
      org.opencontainers.image.source="https://github.com/fipsgate/fipsgate" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ARG TARGETPLATFORM
COPY --from=build /out/${TARGETPLATFORM}/fipsgate /bin/fipsgate
ENTRYPOINT ["/bin/fipsgate"]

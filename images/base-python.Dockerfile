# e2e only: a stand-in for python:3.11-slim-bookworm on a debootstrap'ed Debian bookworm root
# (scripts/e2e-base.sh), for machines that cannot pull images. What the pipeline image relies on:
# Python 3.11 as `python`/`pip` on PATH, pip installing as root, apt, no user 1000 yet.
ARG ROOTFS
FROM ${ROOTFS}
ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
RUN python3 -m venv /usr/local/python && python -c "import sys; assert sys.version_info[:2] == (3, 11)"
CMD ["python3"]

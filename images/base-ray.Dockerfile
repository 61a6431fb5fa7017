# e2e only: a stand-in for rayproject/ray:<version>-py311-gpu (without CUDA and without Ray itself, which
# the Ray image installs from its extra) on a debootstrap'ed Debian bookworm root (scripts/e2e-base.sh).
# What the cluster relies on: user `ray` uid 1000 in group `users`, HOME /home/ray, Python 3.11 first on
# PATH and writable by `ray`, and `bash` + `wget` for KubeRay's probes.
ARG ROOTFS
FROM ${ROOTFS}
ENV PATH=/home/ray/anaconda3/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    HOME=/home/ray
# KubeRay starts Ray with `bash -lc`, whose /etc/profile resets PATH: put the Python back for login shells.
RUN useradd --create-home --home-dir /home/ray --uid 1000 --gid users --shell /bin/bash ray \
    && echo 'export PATH=/home/ray/anaconda3/bin:$PATH' > /etc/profile.d/ray-python.sh \
    && command -v bash && command -v wget
USER ray
RUN python3 -m venv /home/ray/anaconda3 && python -c "import sys; assert sys.version_info[:2] == (3, 11)" \
    && bash -lc 'test "$(command -v python)" = /home/ray/anaconda3/bin/python'
WORKDIR /home/ray
CMD ["bash"]

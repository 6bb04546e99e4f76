"""Debian packages that some tests need (chromium, pgbouncer), installed by the tests themselves
with apt-get once per machine when they run as root; elsewhere those tests are skipped, saying
what to install."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def ensure_installed(path: str, packages: list[str], purpose: str) -> str:
    """`path` (a program the packages provide), installing `packages` when it is missing; later
    runs find it and do nothing."""
    if os.path.exists(path):
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(
            f"{path} is missing and cannot be installed here (needs root and apt-get): "
            f"run `apt-get install {' '.join(packages)}` to run {purpose}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # wait for a dpkg lock held by another install instead of failing at once
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", *packages]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"], env=env, check=True, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get install {' '.join(packages)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    assert os.path.exists(path), f"apt-get reported success but {path} is missing"
    return path

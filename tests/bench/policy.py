#!/usr/bin/python3
"""Benchmark: the migration policy on simulated clusters of 10, 100 and 1,000 hosts
(issues 9 and 18). Builds tests/bench/policy_sim.c with tern's policy code
(migrate/policy.c) into build/bench/ and runs it: one simulated hour, policy off then
on, from a fixed seed, each migration's rounds simulated from the guest's writes and
the link rather than taken from the model. Prints host-seconds overloaded (off, on),
moves, attempts (refused, busy), VMs that went back to the host they had left, GB sent,
the model's error against the simulated outcome, and why nothing moved. Not a test: it
asserts nothing. Takes some 20 s."""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "build", "bench", "policy_sim")
SRCS = ["tests/bench/policy_sim.c", "migrate/policy.c", "migrate/precopy.c", "migrate/converge.c",
        "hv/lib/fmt.c", "net/addr.c"]


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    subprocess.run(["gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-Wno-unused-parameter", "-I.", *SRCS, "-lm", "-o", OUT], cwd=ROOT, check=True)
    return subprocess.run([OUT], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())

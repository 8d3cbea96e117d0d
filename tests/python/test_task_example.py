#!/usr/bin/env python3
"""Runs examples/python/two_party_psi.py against a real cluster and checks it.

The CLI sets the scene (cluster init/up, two users, each uploads its
identifiers encrypted); the example (plain grpcio) registers psi, creates
the task, assigns, approves the digest as each party, invokes and waits;
then each party downloads and decrypts its own output with the CLI, which
must equal the brute-force intersection in that party's own order, and
neither can download the other's.

    test_task_example.py --cloister build/bin/cloister --repo . --protoc protoc
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile


def cli(cloister, home, *args, stdin=None, check=True):
    p = subprocess.run([cloister, "--home", home, "--json", *args], input=stdin,
                       capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise RuntimeError(f"cloister {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return (json.loads(p.stdout) if p.stdout.strip() else {}), p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cloister", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--protoc", default="protoc")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cloister-pyex-")
    home = os.path.join(work, "home")
    try:
        init, _ = cli(a.cloister, home, "cluster", "init", "--gateway-port", "0")
        cli(a.cloister, home, "cluster", "up")
        pem = os.path.join(work, "gateway.pem")
        verdict, _ = cli(a.cloister, home, "attest", "gateway", "--export", pem)
        assert verdict["verdict"] == "ACCEPTED", verdict
        cli(a.cloister, home, "login", "--user", "admin", "--password-stdin",
            stdin=init["admin_password"] + "\n")
        rng = random.Random(7)
        sets, files, pwfiles = {}, {}, {}
        common = [f"cust-{i}" for i in rng.sample(range(100000), 300)]
        for name in ("bank", "insurer"):
            pw = f"{name} password {rng.random()}"
            cli(a.cloister, home, "user", "add", name, "--password-stdin", stdin=pw + "\n")
            pwfiles[name] = os.path.join(work, name + ".pw")
            with open(pwfiles[name], "w") as f:
                f.write(pw)
            own = [f"{name}-only-{i}" for i in range(500)] + common
            rng.shuffle(own)
            sets[name] = own
        for name in ("bank", "insurer"):
            with open(pwfiles[name]) as f:
                cli(a.cloister, home, "login", "--user", name, "--password-stdin",
                    stdin=f.read() + "\n")
            src = os.path.join(work, name + ".txt")
            with open(src, "w") as f:
                f.write("\n".join(sets[name]) + "\n")
            files[name] = cli(a.cloister, home, "file", "upload", src)[0]["file_id"]
            os.remove(src)

        example = os.path.join(a.repo, "examples", "python", "two_party_psi.py")
        p = subprocess.run([sys.executable, example, "--gateway", init["gateway"],
                            "--gateway-pem", pem, "--proto-dir", os.path.join(a.repo, "proto"),
                            "--protoc", a.protoc,
                            "--user-a", "bank", "--password-a-file", pwfiles["bank"],
                            "--file-a", files["bank"],
                            "--user-b", "insurer", "--password-b-file", pwfiles["insurer"],
                            "--file-b", files["insurer"], "--json"],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"example failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
        result = json.loads(p.stdout)
        assert result["state"] == "TASK_STATE_SUCCEEDED", result
        both = set(sets["bank"]) & set(sets["insurer"])
        for name, other in (("bank", "insurer"), ("insurer", "bank")):
            with open(pwfiles[name]) as f:
                cli(a.cloister, home, "login", "--user", name, "--password-stdin",
                    stdin=f.read() + "\n")
            out = os.path.join(work, name + ".out")
            cli(a.cloister, home, "file", "download", result["outputs"][name]["file_id"],
                "-o", out)
            with open(out) as f:
                got = f.read().splitlines()
            expect = [x for x in sets[name] if x in both]
            assert got == expect, f"{name}: {len(got)} ids, expected {len(expect)}"
            _, refused = cli(a.cloister, home, "file", "download",
                             result["outputs"][other]["file_id"], "-o", out + ".x", check=False)
            assert refused.returncode != 0, f"{name} downloaded {other}'s output"
        print(f"python example: two-party PSI task {result['task_id']} OK "
              f"({len(both)} common ids, each party got only its own view)")
        return 0
    finally:
        subprocess.run([a.cloister, "--home", home, "cluster", "down"], capture_output=True,
                       timeout=120)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

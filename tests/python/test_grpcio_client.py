#!/usr/bin/env python3
"""A plain grpcio client (no Cloister code) against a real Cloister cluster.

Shows the public API is usable from any language: the client trusts the
gateway through the certificate exported by `cloister attest gateway
--export` (checked against the signed manifest by the CLI first), logs in,
calls the built-in `echo` function, and downloads and decrypts an
encrypted file (key from the key vault, ciphertext streamed from storage,
decrypted by file_format_reader.py, written from docs/file-format.md). Python message classes come from
`protoc --python_out`; the stub is grpc's generic unary_unary, so
grpc_tools is not needed.

    test_grpcio_client.py --cloister build/bin/cloister --proto-dir proto --protoc protoc
"""
import argparse
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import file_format_reader  # noqa: E402  the independent reader of docs/file-format.md

# One service per proto (proto/auth.proto, exec.proto, gateway.proto, ...).
AUTH, EXEC, GATEWAY = "/cloister.api.Auth/", "/cloister.api.Exec/", "/cloister.api.Gateway/"
KEYVAULT, STORAGE = "/cloister.keyvault.KeyVault/", "/cloister.filestore.Storage/"


def run(cli, home, *args, stdin=None):
    """Runs the cloister CLI with --json and returns the parsed output."""
    p = subprocess.run([cli, "--home", home, "--json", *args], input=stdin,
                       capture_output=True, text=True, timeout=180)
    if p.returncode != 0:
        raise RuntimeError(f"cloister {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return json.loads(p.stdout) if p.stdout.strip() else {}


class CloisterStub:
    """The few RPCs this test needs, through grpc's generic API."""

    def __init__(self, channel, pb, kv, st):
        def rpc(path, req, resp):
            return channel.unary_unary(path,
                                       request_serializer=req.SerializeToString,
                                       response_deserializer=resp.FromString)

        def stream(path, req, resp):  # one request, a stream of responses
            return channel.unary_stream(path,
                                        request_serializer=req.SerializeToString,
                                        response_deserializer=resp.FromString)
        self.Login = rpc(AUTH + "Login", pb.LoginRequest, pb.LoginResponse)
        self.CreateUser = rpc(AUTH + "CreateUser", pb.CreateUserRequest, pb.CreateUserResponse)
        self.Call = rpc(EXEC + "Call", pb.CallRequest, pb.CallResponse)
        self.Health = rpc(GATEWAY + "Health", pb.HealthRequest, pb.HealthResponse)
        self.GetFileKey = rpc(KEYVAULT + "GetFileKey", kv.GetFileKeyRequest,
                              kv.GetFileKeyResponse)
        self.Download = stream(STORAGE + "Download", st.DownloadRequest, st.DownloadResponse)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cloister", required=True)
    ap.add_argument("--proto-dir", required=True)
    ap.add_argument("--protoc", default="protoc")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="cloister-py-")
    home = os.path.join(work, "home")
    try:
        # Python classes for the public API only.
        gen = os.path.join(work, "gen")
        os.makedirs(gen)
        root = os.path.dirname(os.path.abspath(a.proto_dir))
        protos = [os.path.join(os.path.abspath(a.proto_dir), p)
                  for p in ("cloister.proto", "options.proto", "keyvault.proto", "storage.proto")]
        subprocess.run([a.protoc, f"--proto_path={root}", f"--python_out={gen}", *protos],
                       check=True)
        sys.path.insert(0, gen)
        pb = importlib.import_module("proto.cloister_pb2")
        kv = importlib.import_module("proto.keyvault_pb2")
        st = importlib.import_module("proto.storage_pb2")

        init = run(a.cloister, home, "cluster", "init", "--gateway-port", "0")
        run(a.cloister, home, "cluster", "up")
        pem_path = os.path.join(work, "gateway.pem")
        verdict = run(a.cloister, home, "attest", "gateway", "--export", pem_path)
        assert verdict["verdict"] == "ACCEPTED", verdict
        with open(pem_path, "rb") as f:
            pem = f.read()

        creds = grpc.ssl_channel_credentials(root_certificates=pem)
        channel = grpc.secure_channel(init["gateway"], creds,
                                      options=[("grpc.ssl_target_name_override", "gateway")])
        stub = CloisterStub(channel, pb, kv, st)

        health = stub.Health(pb.HealthRequest(), timeout=10)
        assert health.status == "SERVING", health

        admin = stub.Login(pb.LoginRequest(username="admin", password=init["admin_password"]),
                           timeout=10)
        auth = [("authorization", "Bearer " + admin.token)]
        stub.CreateUser(pb.CreateUserRequest(username="pyuser", password="python password 123",
                                             roles=[pb.ROLE_USER]), metadata=auth, timeout=10)

        user = stub.Login(pb.LoginRequest(username="pyuser", password="python password 123"),
                          timeout=10)
        auth = [("authorization", "Bearer " + user.token)]
        payload = b"hello from python \x00\xff"
        resp = stub.Call(pb.CallRequest(function="echo", inputs={"data": payload}),
                         metadata=auth, timeout=30)
        assert resp.outputs["data"] == payload, resp

        # Without a token the gateway refuses, with a code a client can act on.
        try:
            stub.Call(pb.CallRequest(function="echo", inputs={"data": b"x"}), timeout=10)
            raise AssertionError("an unauthenticated call was accepted")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e

        # A wrong password is refused the same way and never echoed back.
        try:
            stub.Login(pb.LoginRequest(username="pyuser", password="wrong password 999"),
                       timeout=10)
            raise AssertionError("a wrong password was accepted")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
            assert "wrong password 999" not in (e.details() or "")

        # Files: the CLI (C++ SDK) uploads an encrypted file for pyuser; this
        # client, with no Cloister code, fetches its key and ciphertext and
        # decrypts it with the independent reader of docs/file-format.md.
        plain = os.urandom(3 * 1024 * 1024 + 17)
        src = os.path.join(work, "upload.bin")
        with open(src, "wb") as f:
            f.write(plain)
        subprocess.run([a.cloister, "--home", home, "login", "--user", "pyuser",
                        "--password-stdin"], input="python password 123\n", text=True,
                       check=True, capture_output=True, timeout=60)
        uploaded = run(a.cloister, home, "file", "upload", src)
        file_id = uploaded["file_id"]
        key = stub.GetFileKey(kv.GetFileKeyRequest(file_id=file_id), metadata=auth, timeout=10)
        blob = b"".join(piece.data for piece in
                        stub.Download(st.DownloadRequest(file_id=file_id), metadata=auth,
                                      timeout=60))
        assert hashlib.sha256(blob).digest() == bytes.fromhex(uploaded["sha256"]), "sha256"
        assert file_format_reader.decrypt(key.file_key, blob) == plain, "decrypted bytes differ"
        # Another user gets neither the key nor the bytes, and the same answer
        # as for a file that does not exist.
        stub.CreateUser(pb.CreateUserRequest(username="pyother", password="python password 456",
                                             roles=[pb.ROLE_USER]),
                        metadata=[("authorization", "Bearer " + admin.token)], timeout=10)
        other = stub.Login(pb.LoginRequest(username="pyother", password="python password 456"),
                           timeout=10)
        other_auth = [("authorization", "Bearer " + other.token)]
        for fid in (file_id, "0" * 32):
            try:
                stub.GetFileKey(kv.GetFileKeyRequest(file_id=fid), metadata=other_auth, timeout=10)
                raise AssertionError("another user got the file key")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND, e
            try:
                list(stub.Download(st.DownloadRequest(file_id=fid), metadata=other_auth,
                                   timeout=10))
                raise AssertionError("another user downloaded the file")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND, e

        print("python grpcio client: login + echo + file download/decrypt through the "
              "attested gateway OK")
        return 0
    finally:
        subprocess.run([a.cloister, "--home", home, "cluster", "down"], capture_output=True,
                       timeout=120)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

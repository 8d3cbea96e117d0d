#!/usr/bin/env python3
"""Two parties run a private set intersection as a Cloister task, from Python.

Plain grpcio and protobuf, no Cloister code: message classes come from
`protoc --python_out` over the repository's proto/ directory (done here at
start), calls go through grpc's generic unary API. Each party has already
uploaded its identifiers as an encrypted file (`cloister file upload`); this
program then, for both parties:

  1. registers the built-in `psi` as a task function (party A),
  2. creates a task: input slot set.A owned by A, set.B by B, and output
     result.A for A only, result.B for B only,
  3. lets each party assign its own file to its own slot,
  4. shows the task digest and lets each party approve exactly that digest,
  5. invokes it and long-polls WaitTask until it ends,
  6. prints, for each party, the id of its own output file (download and
     decrypt it with `cloister task result` or `cloister file download`).

    two_party_psi.py --gateway 127.0.0.1:7443 --gateway-pem gateway.pem \\
        --proto-dir proto --user-a bank --password-a-file a.pw --file-a ID \\
        --user-b insurer --password-b-file b.pw --file-b ID [--json]

The gateway certificate comes from `cloister attest gateway --export
gateway.pem`, which checks the gateway's attestation against the signed
manifest first; the TLS channel then pins exactly that certificate.
"""
import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

import grpc

AUTH = "/cloister.api.Auth/"
TASKS = "/cloister.tasks.Tasks/"
FINAL = {"TASK_STATE_SUCCEEDED", "TASK_STATE_FAILED", "TASK_STATE_CANCELED",
         "TASK_STATE_REJECTED"}


def load_protos(proto_dir, protoc):
    """Generates and imports the Python classes of the public protos."""
    gen = tempfile.mkdtemp(prefix="cloister-pb-")
    proto_dir = os.path.abspath(proto_dir)
    root = os.path.dirname(proto_dir)
    files = [os.path.join(proto_dir, p) for p in ("cloister.proto", "options.proto", "tasks.proto")]
    subprocess.run([protoc, f"--proto_path={root}", f"--python_out={gen}", *files], check=True)
    sys.path.insert(0, gen)
    return (importlib.import_module("proto.cloister_pb2"),
            importlib.import_module("proto.tasks_pb2"))


class Party:
    """One user's session: every call carries its bearer token."""

    def __init__(self, channel, pb, tk, name, password):
        self.name = name
        self._channel = channel
        login = self._rpc(AUTH + "Login", pb.LoginResponse)
        session = login(pb.LoginRequest(username=name, password=password), timeout=10)
        self._auth = [("authorization", "Bearer " + session.token)]
        self.user_id = session.user.user_id
        self.tk = tk

    def _rpc(self, path, resp):
        return self._channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=resp.FromString)

    def call(self, method, request, timeout=60):
        resp_type = getattr(self.tk, method + "Response")
        return self._rpc(TASKS + method, resp_type)(request, metadata=self._auth, timeout=timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway", required=True, help="host:port of the Cloister gateway")
    ap.add_argument("--gateway-pem", required=True,
                    help="the gateway certificate from `cloister attest gateway --export`")
    ap.add_argument("--proto-dir", required=True, help="the repository's proto/ directory")
    ap.add_argument("--protoc", default="protoc")
    for p in ("a", "b"):
        ap.add_argument(f"--user-{p}", required=True)
        ap.add_argument(f"--password-{p}-file", required=True,
                        help="a file holding the password (never on the command line)")
        ap.add_argument(f"--file-{p}", required=True, help="the party's uploaded file id")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    a = ap.parse_args()

    pb, tk = load_protos(a.proto_dir, a.protoc)
    with open(a.gateway_pem, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    channel = grpc.secure_channel(a.gateway, creds,
                                  options=[("grpc.ssl_target_name_override", "gateway")])

    def password(path):
        with open(path) as f:
            return f.read().strip()

    A = Party(channel, pb, tk, a.user_a, password(a.password_a_file))
    B = Party(channel, pb, tk, a.user_b, password(a.password_b_file))

    fn = A.call("RegisterTaskFunction", tk.RegisterTaskFunctionRequest(
        kind=tk.FUNCTION_KIND_BUILTIN, builtin_name="psi", public=True)).function
    log = (lambda *x: None) if a.json else print
    log(f"function psi: id {fn.function_id} version hash {fn.hash}")

    # Parties name each other by user id (exchanged out of band; each
    # learns its own from its login).
    ids = {A.name: A.user_id, B.name: B.user_id}
    return run_task(a, A, B, ids, tk, fn, log)


def run_task(a, A, B, ids, tk, fn, log):
    task = A.call("CreateTask", tk.CreateTaskRequest(
        function_hash=fn.hash, function_id=fn.function_id,
        inputs={"set.A": ids[A.name], "set.B": ids[B.name]},
        outputs={"result.A": tk.SlotOwners(user_ids=[ids[A.name]]),
                 "result.B": tk.SlotOwners(user_ids=[ids[B.name]])},
        description="two-party PSI from Python")).task
    log(f"task {task.task_id} created: {'; '.join(task.missing)}")
    A.call("AssignInput", tk.AssignInputRequest(task_id=task.task_id, slot="set.A",
                                                file_id=a.file_a))
    task = B.call("AssignInput", tk.AssignInputRequest(task_id=task.task_id, slot="set.B",
                                                       file_id=a.file_b)).task
    log(f"both inputs assigned; digest {task.digest}")
    for party in (A, B):
        # Each party reads the task itself and approves the digest it saw.
        seen = party.call("GetTask", tk.GetTaskRequest(task_id=task.task_id)).task
        party.call("ApproveTask", tk.ApproveTaskRequest(task_id=seen.task_id, digest=seen.digest))
        log(f"{party.name} approved {seen.digest[:16]}…")
    task = A.call("InvokeTask", tk.InvokeTaskRequest(task_id=task.task_id)).task
    start = time.monotonic()
    while tk.TaskState.Name(task.state) not in FINAL and time.monotonic() - start < 300:
        waited = A.call("WaitTask", tk.WaitTaskRequest(task_id=task.task_id,
                                                       after_version=task.version,
                                                       timeout_ms=10000), timeout=40)
        task = waited.task
        log(f"  {tk.TaskState.Name(task.state)}")
    state = tk.TaskState.Name(task.state)
    result = {"task_id": task.task_id, "state": state, "digest": task.digest, "outputs": {}}
    for party in (A, B):
        mine = party.call("GetTask", tk.GetTaskRequest(task_id=task.task_id)).task
        for out in mine.outputs:
            for f in out.files:
                result["outputs"][party.name] = {"slot": out.slot, "file_id": f.file_id}
    if state != "TASK_STATE_SUCCEEDED":
        result["end"] = {"reason": task.end.reason, "message": task.end.message}
    if a.json:
        print(json.dumps(result))
    else:
        for name, o in result["outputs"].items():
            print(f"{name}: output {o['slot']} is file {o['file_id']}")
        print(f"task {task.task_id}: {state}")
    return 0 if state == "TASK_STATE_SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())

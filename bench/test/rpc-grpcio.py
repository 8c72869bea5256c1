"""A gRPC client of the relay written with Google's grpcio (Debian's
python3-grpcio), stubs generated from shared/proto at test time by
python3-grpc-tools. Driven by rpc-grpcio.test.ts; prints one JSON line per
step and exits 0 when the scenario ran to the end.

usage: rpc-grpcio.py ADDRESS TOKEN SERVER_ID
"""
import json
import sys
import threading

import grpc
from lightsout.v1 import power_pb2, power_pb2_grpc, server_pb2, server_pb2_grpc, types_pb2

address, token, server_id = sys.argv[1:4]
auth = [("authorization", "Bearer " + token)]
channel = grpc.insecure_channel(address)
servers = server_pb2_grpc.ServerServiceStub(channel)
power = power_pb2_grpc.PowerServiceStub(channel)


def say(**fields):
    print(json.dumps(fields), flush=True)


def refusal(call):
    try:
        call()
    except grpc.RpcError as error:
        trailer = dict(error.trailing_metadata() or ()).get("lightsout-error-code")
        return {"status": error.code().name, "code": trailer}
    return {"status": "OK"}


listed = servers.ListServers(server_pb2.ListServersRequest(), metadata=auth, timeout=30)
say(step="list", servers=[{"id": s.id, "power": types_pb2.PowerState.Name(s.power), "agent_online": s.agent_online} for s in listed.servers])
say(step="refusals", missing=refusal(lambda: servers.GetServer(server_pb2.GetServerRequest(server_id="no-such-server"), metadata=auth, timeout=30)),
    anonymous=refusal(lambda: servers.ListServers(server_pb2.ListServersRequest(), timeout=30)))

# Watch first, then act: the change must arrive on the stream, seen by the BMC (no pending action left).
watch = servers.WatchServers(server_pb2.WatchServersRequest(), metadata=auth, timeout=90)
first = next(watch)
assert first.WhichOneof("event") == "snapshot", first
say(step="snapshot", servers=[s.id for s in first.snapshot.servers])
before = next(s for s in first.snapshot.servers if s.id == server_id).power
target = types_pb2.POWER_STATE_OFF if before == types_pb2.POWER_STATE_ON else types_pb2.POWER_STATE_ON
action = types_pb2.POWER_ACTION_OFF if target == types_pb2.POWER_STATE_OFF else types_pb2.POWER_ACTION_ON
answered = {}
# The action runs beside the stream: the stream is read while the BMC is asked.
thread = threading.Thread(target=lambda: answered.update(reply=power.SetPower(power_pb2.SetPowerRequest(server_id=server_id, action=action), metadata=auth, timeout=60)))
thread.start()
for event in watch:
    if event.WhichOneof("event") != "server" or event.server.id != server_id:
        continue
    pending = event.server.HasField("pending_power")
    say(step="change", power=types_pb2.PowerState.Name(event.server.power), pending=pending)
    if event.server.power == target and not pending:
        break
thread.join()
watch.cancel()
say(step="done", target=types_pb2.PowerState.Name(target), accepted=types_pb2.PowerState.Name(answered["reply"].power))

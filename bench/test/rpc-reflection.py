"""A grpcurl-like client of the relay's server reflection, written with
Google's grpcio and protobuf runtimes (Debian's python3-grpcio and
python3-protobuf): stubs for grpc.reflection.v1 and v1alpha generated at
test time by python3-grpc-tools. It lists the services, fetches the file
defining ServerService with its imports, builds the descriptors from them
alone (no lightsout .proto at hand) and calls ListServers with a message
made from those descriptors. Driven by rpc-grpcio.test.ts; one JSON line
per step.

usage: rpc-reflection.py ADDRESS TOKEN
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from reflection.v1 import reflection_pb2 as v1, reflection_pb2_grpc as v1_grpc
from reflection.v1alpha import reflection_pb2 as v1alpha, reflection_pb2_grpc as v1alpha_grpc

address, token = sys.argv[1:3]
auth = [("authorization", "Bearer " + token)]
channel = grpc.insecure_channel(address)


def say(**fields):
    print(json.dumps(fields), flush=True)


def ask(stub, module, requests, metadata=auth):
    return list(stub.ServerReflectionInfo(iter(requests), metadata=metadata, timeout=30))


reflection = v1_grpc.ServerReflectionStub(channel)
listed, found, missing = ask(reflection, v1, [
    v1.ServerReflectionRequest(list_services=""),
    v1.ServerReflectionRequest(file_containing_symbol="lightsout.v1.ServerService"),
    v1.ServerReflectionRequest(file_containing_symbol="lightsout.v1.NoSuchService"),
])
say(step="list", services=[service.name for service in listed.list_services_response.service])
say(step="missing", code=missing.error_response.error_code)

# Build the descriptors from what reflection sent: imports before the files that need them.
pool = descriptor_pool.DescriptorPool()
pending = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in found.file_descriptor_response.file_descriptor_proto]
added = set()
while pending:
    ready = [file for file in pending if all(dependency in added for dependency in file.dependency)]
    if not ready:
        raise SystemExit("reflection left out an import: " + ", ".join(file.name for file in pending))
    for file in ready:
        pool.Add(file)
        added.add(file.name)
        pending.remove(file)
service = pool.FindServiceByName("lightsout.v1.ServerService")
say(step="service", file=found.file_descriptor_response.file_descriptor_proto and descriptor_pb2.FileDescriptorProto.FromString(found.file_descriptor_response.file_descriptor_proto[0]).name,
    methods=[method.name for method in service.methods])


def message_class(descriptor):
    get = getattr(message_factory, "GetMessageClass", None)
    return get(descriptor) if get else message_factory.MessageFactory(pool).GetPrototype(descriptor)


method = service.methods_by_name["ListServers"]
request_class, response_class = message_class(method.input_type), message_class(method.output_type)
call = channel.unary_unary("/lightsout.v1.ServerService/ListServers", request_serializer=lambda message: message.SerializeToString(), response_deserializer=response_class.FromString)
reply = call(request_class(), metadata=auth, timeout=30)
say(step="call", servers=[server.id for server in reply.servers])

alpha = ask(v1alpha_grpc.ServerReflectionStub(channel), v1alpha, [v1alpha.ServerReflectionRequest(list_services="")])[0]
say(step="v1alpha", services=[entry.name for entry in alpha.list_services_response.service])

try:
    ask(reflection, v1, [v1.ServerReflectionRequest(list_services="")], metadata=[])
    say(step="anonymous", status="OK")
except grpc.RpcError as error:
    say(step="anonymous", status=error.code().name)
say(step="done")

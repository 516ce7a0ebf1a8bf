"""Calls rosetta's gRPC frontend as a client that knows nothing in advance: the services and
message types come from server reflection (grpcio-reflection), the health from the standard
health service. Prints one JSON object with what it saw.

    python reflect_client.py 127.0.0.1:PORT
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def call(channel, pool, service, method, request_json):
    """A unary call by name, with message classes made from the reflected descriptors."""
    desc = pool.FindServiceByName(service).FindMethodByName(method)
    request_class = message_factory.GetMessageClass(desc.input_type)
    response_class = message_factory.GetMessageClass(desc.output_type)
    stub = channel.unary_unary(
        f"/{service}/{method}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    try:
        response = stub(json_format.Parse(json.dumps(request_json), request_class()), timeout=10)
        return {"ok": json_format.MessageToDict(response)}
    except grpc.RpcError as error:
        return {"code": error.code().name, "message": error.details()}


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    database = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(database)
    health = health_pb2_grpc.HealthStub(channel)
    statuses = {
        name: health_pb2.HealthCheckResponse.ServingStatus.Name(
            health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
        )
        for name in ["demo.v1.Users", "soap.countries.CountryInfoService"]
    }
    print(json.dumps({
        "services": sorted(database.get_services()),
        "health": statuses,
        "get_user": call(channel, pool, "demo.v1.Users", "GetUser", {"id": "1"}),
        "missing_user": call(channel, pool, "demo.v1.Users", "GetUser", {"id": "999"}),
        "capital": call(channel, pool, "soap.countries.CountryInfoService", "CapitalCity",
                        {"sCountryISOCode": "JP"}),
    }))


if __name__ == "__main__":
    main()

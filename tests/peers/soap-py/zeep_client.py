"""zeep, as a client of rosetta's SOAP frontend: loads the generated WSDL from its URL, calls
operations, and prints one JSON object with what came back.

    python zeep_client.py http://127.0.0.1:PORT/soap/Users?wsdl
"""
import json
import sys

import zeep
from zeep.helpers import serialize_object


def main():
    client = zeep.Client(sys.argv[1])
    service = client.service
    user = serialize_object(service.GetUser(id=1), dict)
    created = serialize_object(
        service.CreateUser(user={"name": "Mary", "tags": ["x", "y"], "role": "ROLE_USER"}), dict
    )
    try:
        service.GetUser(id=999)
        missing = {"fault": None}
    except zeep.exceptions.Fault as fault:
        missing = {"fault": fault.message}
    print(json.dumps({"get_user": user, "created": created, "missing": missing}, default=str))


if __name__ == "__main__":
    main()

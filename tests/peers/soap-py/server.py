"""Demo SOAP CustomerService on spyne (PyPI): a third-party SOAP stack for rosetta's interop
tests. Service logic adapted from the shared peer harness (shared/peers/soap-py); all SOAP/XML
handling is spyne's. Listens on 127.0.0.1 only.

  python server.py [--soap 11|12]

Binds port 0, prints `listening on PORT`, and stops when its stdin closes (the test that
started it ended). Operations (namespace http://peers.example.test/demo/customers):
  getCustomer(id:long) -> Customer          unknown id -> Client.NotFound fault
  listCustomers(tier:Tier?) -> Customer[]
  add(a:int, b:int) -> int
  divide(a:int, b:int) -> double           b == 0 -> Client.DivisionByZero fault
"""
import argparse
import datetime
import decimal
import logging
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from spyne import (Application, Array, ComplexModel, DateTime, Decimal, Double, Enum, Fault,
                   Integer32, Integer64, ServiceBase, Unicode, rpc)
from spyne.protocol.soap import Soap11, Soap12
from spyne.server.wsgi import WsgiApplication

TNS = "http://peers.example.test/demo/customers"
Tier = Enum("BRONZE", "SILVER", "GOLD", type_name="Tier")


class Address(ComplexModel):
    __namespace__ = TNS
    street = Unicode
    city = Unicode
    country = Unicode


class Customer(ComplexModel):
    __namespace__ = TNS
    id = Integer64
    name = Unicode
    email = Unicode
    tier = Tier
    tags = Array(Unicode)
    address = Address
    created = DateTime
    balance = Decimal


def seed():
    db = {}
    tiers = ["GOLD", "SILVER", "BRONZE", "BRONZE", "SILVER"]
    for i in range(1, 6):
        db[i] = Customer(
            id=i, name=f"customer{i}", email=f"customer{i}@example.test", tier=tiers[i - 1],
            tags=[f"c{i}", "seed"],
            address=Address(street=f"{i} Main St", city="Springfield", country="US"),
            created=datetime.datetime(2023, 11, 14, 22, 13, 20 + i, tzinfo=datetime.timezone.utc),
            balance=decimal.Decimal(f"{i * 100}.25"))
    return db


DB = seed()


class CustomerService(ServiceBase):
    @rpc(Integer64, _returns=Customer)
    def getCustomer(ctx, id):
        c = DB.get(id)
        if c is None:
            raise Fault(faultcode="Client.NotFound", faultstring=f"customer {id} not found")
        return c

    @rpc(Tier, _returns=Array(Customer))
    def listCustomers(ctx, tier):
        return [c for c in DB.values() if tier is None or str(c.tier) == str(tier)]

    @rpc(Integer32, Integer32, _returns=Integer32)
    def add(ctx, a, b):
        return (a or 0) + (b or 0)

    @rpc(Integer32, Integer32, _returns=Double)
    def divide(ctx, a, b):
        if not b:
            raise Fault(faultcode="Client.DivisionByZero", faultstring="b must not be 0")
        return a / b


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--soap", choices=["11", "12"], default="11")
    a = ap.parse_args()
    proto = Soap12 if a.soap == "12" else Soap11
    app = Application([CustomerService], tns=TNS, name="CustomerService",
                      in_protocol=proto(validator="lxml"), out_protocol=proto())
    logging.basicConfig(level=logging.ERROR)
    # A client fault is an answer the tests ask for, not an error of the server: spyne would
    # log each with its traceback.
    logging.getLogger("spyne.application.client").setLevel(logging.CRITICAL)
    server = make_server("127.0.0.1", 0, WsgiApplication(app), handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening on {server.server_port}", flush=True)
    sys.stdin.read()  # returns when the test closes our stdin (or ends)


if __name__ == "__main__":
    main()

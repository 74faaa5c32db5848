#!/usr/bin/env python3
"""Order service: places orders by producing ``order_placed`` events to ``orders``.

Each event has key = the order id (so every event of one order lands on the same
partition) and a JSON value. Order ids are deterministic (``order-000001``,
``order-000002``, ...), so re-running a range re-produces the same orders and the
downstream services, which key their work by order id, stay idempotent-friendly.

    HERALD_BROKERS=127.0.0.1:7420 python order_service.py --create-topic --first 1 --count 300
"""

import argparse
import json
import os
import sys
import time

from herald import Admin, AlreadyExistsError, Producer

TOPIC = "orders"
PARTITIONS = 6


def order_id(n: int) -> str:
    return f"order-{n:06d}"


def order_event(n: int) -> dict:
    # Deterministic content derived from the number: a re-run produces identical events.
    return {
        "type": "order_placed",
        "order_id": order_id(n),
        "customer_id": f"customer-{n % 37:03d}",
        "items": [{"sku": f"sku-{n % 11:02d}", "quantity": 1 + n % 3}],
        "total_cents": 500 + (n * 137) % 10_000,
        "placed_at_ms": int(time.time() * 1000),
    }


def ensure_topic(brokers: str) -> None:
    with Admin(brokers) as admin:
        try:
            admin.create_topic(TOPIC, partitions=PARTITIONS)
            print(f"order-service: created topic {TOPIC} ({PARTITIONS} partitions)", flush=True)
        except AlreadyExistsError:
            pass  # idempotent: a second run reuses the topic


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=1, help="number of the first order")
    parser.add_argument("--count", type=int, default=100, help="how many orders to place")
    parser.add_argument("--create-topic", action="store_true", help=f"create '{TOPIC}' if absent")
    args = parser.parse_args()
    brokers = os.environ.get("HERALD_BROKERS", "127.0.0.1:7420")

    if args.create_topic:
        ensure_topic(brokers)

    # Idempotent producer (the default): a batch retried after a lost ack is stored once.
    with Producer(brokers, linger_ms=5) as producer:
        futures = [
            producer.send(
                TOPIC,
                json.dumps(order_event(n)).encode(),
                key=order_id(n),
                headers=[("event-type", b"order_placed")],
            )
            for n in range(args.first, args.first + args.count)
        ]
        producer.flush()
        for future in futures:
            future.result()  # raises the typed HeraldError of a failed send
    last = args.first + args.count - 1
    print(f"order-service: placed {args.count} orders "
          f"({order_id(args.first)}..{order_id(last)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

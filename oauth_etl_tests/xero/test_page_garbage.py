"""A page read over HTTP leaves no cyclic garbage holding its body.

httpx ties every response to its stream in a reference cycle; a response whose body was
read into it keeps the body until a full collection, and while a batch streams full
collections wait (oauth_etl/storage/collector.py). So the client streams each body out
of its response: what a pause can hold is a few KiB of httpx objects a page, not pages.
"""

from __future__ import annotations

import gc

from oauth_etl.xero.catalog import endpoint
from oauth_etl_tests.conftest import SandboxHandle
from oauth_etl_tests.xero.test_sandbox import client_for

BODY_AT_LEAST = 50_000  # bytes: a page of invoices is far larger, a header far smaller


def test_pages_read_leave_no_garbage_holding_a_body(sandbox: SandboxHandle) -> None:
    with client_for(sandbox) as client:
        tenant = client.connections()[0].tenant_id
        gc.collect()
        gc.disable()  # whatever cycles the reads leave stay, to be inspected
        try:
            records = list(client.extract(endpoint("invoices"), tenant))
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            garbage = list(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert len(records) == 250
    assert any(type(o).__name__ == "Response" for o in garbage)  # the cycle is httpx's
    held = [
        len(referent)
        for o in garbage
        for referent in gc.get_referents(o)
        if isinstance(referent, bytes) and len(referent) >= BODY_AT_LEAST
    ]
    assert held == []

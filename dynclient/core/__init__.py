"""The I/O-free core of a call, shared by every shell (Client, AsyncClient, the runner, the Batch workflow).

Nothing in this package opens a socket, sleeps or reads a clock it waits on: it
decides. A call becomes a prepared request; an answer (status, headers, bytes)
becomes a result, a typed error, a retry decision or the next page's arguments;
the bytes of an event stream become validated events. The shells only move
bytes and wait (see ``dynclient/transport.py`` for urllib3, ``dynclient/aio.py``
for asyncio), so the two clients cannot drift apart.

    policy      Timeout, RetryPolicy: how long to wait, whether to try again
    redirects   where a 3xx goes next, and which headers may follow it there
    sse         an event-stream parser, fed bytes, linear and bounded
    redact      Secret, and the log filter that masks every credential
"""

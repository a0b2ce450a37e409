"""The delivery engine shared by `segdebug collect --forward` and `segdebug replay`.

One sender (keep-alive session, retries with capped jittered backoff, 429 pausing the
destination, other 4xx final, a refused batch narrowed down to the bad message unless the
answer lists exactly which items it refused and kept the rest), one record of
what each request looked like (`exchange`), one failed file, and one summary of what reached a
destination (`summary`). Pure parts (backoff, target, integrations, summary, latency, exchange)
have no I/O; `sender`, `outbox`, `forwarder` and `service` do the I/O. Nothing here imports
`replay`: replay imports this package.
"""

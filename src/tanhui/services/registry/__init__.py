"""The credit registry's use cases (docs/registry.md), one module per use case; import the module you need.

``issuance`` (issue), ``movements`` (transfer, retire, neutralise_event, buy_and_neutralise), ``views``
(batches, holdings, retirements, certificates, proofs, contributions, shortfall: the reads behind the
pages, the API and the CLI) and ``verify`` (read a scheme in one snapshot, run the pure checks of
``domain/registry/verify.py``). ``common`` holds what they share. Every writer locks the scheme's
registry head first, so on PostgreSQL two issuances (or transfers) of one scheme queue instead of
racing; the primary keys of ``credit_batch_events`` and ``credit_block_spends`` refuse a double
issue or spend regardless.
"""

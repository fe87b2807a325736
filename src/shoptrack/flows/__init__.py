"""Flows: automations that a metric's live events start — delays, conditional splits, emails and
webhooks — walked by the flow engine as durable work rows.

Modules: ``model`` (what a flow is), ``conditions`` (filters and splits), ``library`` (ready-made
flows), ``entry`` (live inserted events → runs), ``engine`` (runs → steps → deliveries),
``email`` (templates and messages), ``sandbox`` (what a template may do), ``renderer`` (the
process templates render in, under a time limit), ``delivery`` (SMTP, the outbox folder, signed
webhooks), ``unsubscribe`` (signed links), ``service`` (creating and changing flows). Nothing is
re-exported here, so that the store can import the model without importing the engine.
"""

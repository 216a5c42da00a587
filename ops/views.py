"""The console's pages. Each reads the cluster once per view; nothing slow is cached beyond ops/cluster.py."""
from __future__ import annotations

import io
import json
import os

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from kafka.errors import KafkaError

from carts.shopify.fulfillment_service import ShopifyFulfillmentService
from events import topics
from events.previews import CART_LISTING_COST, read_report
from events.replay import ReplayError, Selection, refusal, replay
from ops import auth
from carts.onboarding import Mode
from ops.cluster import FLOWS
from ops.connect import connect
from ops.services import services
from outbound.errors import OutboundError

bp = Blueprint("ops", __name__, template_folder="templates")

SIDE_TOPICS = [side(main) for main in topics.MAIN_TOPICS for side in (topics.dead_letters, topics.skipped)]
MAX_REPLAY = 500
CONNECT_MODES = {"check": Mode(dry_run=True), "connect": Mode(), "fix": Mode(fix=True)}


@bp.errorhandler(KafkaError)
def _kafka_down(error):
    return render_template("error.html", message=f"Kafka did not answer: {error.__class__.__name__}"), 503


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.route("/login", methods=["GET", "POST"])
def login():
    return auth.login_view()


@bp.post("/logout")
def logout():
    auth.end_session()
    return redirect(url_for("ops.login"))


@bp.get("/")
def index():
    ops = services()
    connections = sorted(ops.registry.all(), key=lambda c: c.id)
    counts = ops.cluster.counts({c.id: c.lob_id for c in connections})
    health = {(h.connection_id, h.flow): h for h in ops.cluster.connection_health()}
    rows = []
    for connection in connections:
        in_force, source = ops.switches(connection)
        rows.append({"connection": connection, "switches": in_force, "source": source,
                     "flows": {flow: {what: counts.get((connection.id, flow, what), [0, 0])
                                      for what in ("received", "skipped", "dead_lettered")}
                               for flow in FLOWS.values()},
                     "health": {flow: health.get((connection.id, flow)) for flow in FLOWS.values()}})
    return render_template("connections.html", rows=rows)


@bp.get("/side")
def side():
    topic = request.args.get("topic") or topics.dead_letters(topics.CART_ORDERS)
    if topic not in SIDE_TOPICS:
        abort(404)
    connection = request.args.get("connection", "").strip()
    reason = request.args.get("reason", "").strip()
    records = services().cluster.side_records(topic, connection_id=int(connection) if connection.isdigit() else None,
                                              reason=reason or None)
    return render_template("side.html", topic=topic, side_topics=SIDE_TOPICS, records=records, connection=connection,
                           reason=reason, refusal=refusal(topic), pretty=lambda body: json.dumps(
                               body, indent=1, default=str, ensure_ascii=False))


@bp.post("/replay")
def replay_selected():
    """Exactly `cartbridge-replay --from <topic> --event-id …` for the ticked events: same reading, same rules."""
    topic = request.form.get("topic", "")
    event_ids = frozenset(request.form.getlist("event_id"))
    refused = refusal(topic)
    if refused or not event_ids or len(event_ids) > MAX_REPLAY:
        return render_template("replayed.html", topic=topic, lines=[],
                               error=refused or ("tick at least one event" if not event_ids else
                                                 f"at most {MAX_REPLAY} events at once")), 400
    out = io.StringIO()
    ops = services()
    try:
        report = replay(ops.settings, topic, Selection(event_ids=event_ids), ops.publisher, out)
    except ReplayError as error:
        return render_template("replayed.html", topic=topic, lines=out.getvalue().splitlines(),
                               error=f"replay stopped: {error}"), 503
    return render_template("replayed.html", topic=topic, lines=out.getvalue().splitlines(),
                           summary=report.summary(), error=None)


@bp.post("/fulfillment-cancellation")
def answer_cancellation():
    """`cartbridge-shopify-fulfillment-service --accept-cancellation / --reject-cancellation` as a button."""
    topic = request.form.get("topic") or topics.dead_letters(topics.CART_ORDERS)
    connection = services().registry.get(request.form.get("connection", ""))
    fo_id = request.form.get("fulfillment_order_id", "")
    decision = request.form.get("decision")
    message = request.form.get("message", "").strip()
    if connection is None or not connection.fulfillment_service or not fo_id.startswith("gid://shopify/FulfillmentOrder/"):
        return render_template("answered.html", topic=topic, error="not a fulfillment order of a fulfillment service "
                                                                 "connection"), 400
    if decision not in ("accept", "reject") or (decision == "reject" and not message):
        return render_template("answered.html", topic=topic, error="accept, or reject with a message the merchant "
                                                                 "reads"), 400
    service = ShopifyFulfillmentService(connection, timeout=services().settings.http_timeout)
    try:
        errors = service.answer("cancellation", fo_id, decision == "accept", message or "cancelled in Infoplus")
    except OutboundError as error:
        return render_template("answered.html", topic=topic, error=f"Shopify: {error}"), 502
    if errors:
        return render_template("answered.html", topic=topic, error=f"Shopify refused: {errors}"), 409
    return render_template("answered.html", topic=topic, error=None,
                           done=f"cancellation request of {fo_id} {decision}ed")


@bp.get("/consumers")
def consumers():
    return render_template("consumers.html", groups=services().cluster.groups())


@bp.get("/poller")
def poller():
    return render_template("poller.html", poller=services().cluster.poller())


@bp.get("/preview")
def preview():
    """`cartbridge-preview --connection N` as a page: what Sync Inventory / Sync Tracking Data in preview would write."""
    ops = services()
    previewing = [c for c in (ops.switches(c)[0] for c in sorted(ops.registry.all(), key=lambda c: c.id)) if c.previews]
    wanted = request.args.get("connection", "").strip()
    if not wanted.isdigit():
        return render_template("preview.html", previewing=previewing, report=None, connection=None)
    connection = ops.registry.get(int(wanted))
    if connection is None:
        abort(404)
    try:
        report = read_report(ops.settings, connection.id)
    except ReplayError as error:
        return render_template("error.html", message=f"the preview records could not be read: {error}"), 503
    return render_template("preview.html", previewing=previewing, report=report, connection=ops.switches(connection)[0],
                           listing_cost=CART_LISTING_COST, limit=500)


@bp.post("/connect")
def connect_store():
    """`cartbridge-connect <id>` (`--dry-run` for "check", `--fix` for "fix") as a button: the same checklist."""
    ops = services()
    connection = ops.registry.get(request.form.get("connection", ""))
    action = request.form.get("action", "check")
    if connection is None or action not in CONNECT_MODES:
        return render_template("connected.html", report=None, error="no such connection, or no such action"), 400
    report = connect(connection, ops.settings, os.environ.get("CARTBRIDGE_PUBLIC_URL"), CONNECT_MODES[action])
    return render_template("connected.html", report=report, action=action, error=None)

"""The sending engine against its ceilings, in one run, into one Postfix smtp-sink.

    python bench/send.py                       # 10k readers, SQLite, 3 runs
    python bench/send.py --n 10000 --n 100000  # also worker RSS growth from 10k to 100k
    python bench/send.py --db postgresql       # PostgreSQL + Redis broker

Per run and in this order, against the same sink with the same number of processes,
each with one SMTP connection:

- ceiling (a): a plain loop that builds each personalised message with the standard
  ``email`` package and sends it with ``smtplib``; no database;
- ceiling (b): sending one pre-built message's bytes with ``smtplib`` (the channel);
- the engine: a campaign (~15 KB HTML + text, first name, coupon code and unsubscribe
  link per reader) to N confirmed readers, through the real pipeline: the dispatcher
  starts it (render, freeze, ledger snapshot), ``celery -A worker worker`` processes
  claim, send and record every delivery. Timed from the dispatcher's start to the
  campaign's ``sent``. The worker's pool processes' peak RSS is read from /proc.

Each figure is the median of the runs; ratios are of medians.
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import tempfile
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

from bench import common

BODY = (Path(__file__).parent / "newsletter.md").read_text()
SUBJECT = "Spring at the clinic: new treatments, longer hours"
PREHEADER = "Hot stones, evening sessions and a gift waiting at the desk"
POLICY = SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class ReaderRow:
    subscriber_id: int
    email: str
    first_name: str
    coupon_code: str | None
    coupon_url: str | None


# ---------------------------------------------------------------- setting up


def seed(app, n: int, coupon_share: float) -> tuple[list[ReaderRow], int]:
    """``n`` confirmed readers, ``coupon_share`` of them holding an unredeemed coupon."""
    from datetime import timedelta

    from sqlalchemy import insert, select

    from campaign.coupons import codes
    from campaign.coupons.models import Coupon
    from campaign.coupons.services import coupon_page_token, owner_key, welcome_offer
    from campaign.database import utcnow
    from campaign.extensions import db
    from campaign.staff import services as staff_services
    from campaign.staff.models import Role
    from campaign.subscribers.models import Subscriber

    secret = app.config["SECRET_KEY"]
    now = utcnow()
    with app.app_context():
        staff = staff_services.create_staff(
            "marketing@clinic.example", Role.named("marketing"), "bench password 1"
        )
        offer = welcome_offer()
        db.session.commit()
        staff_id, offer_id = staff.id, offer.id
        for start in range(0, n, 5000):
            db.session.execute(
                insert(Subscriber),
                [
                    {
                        "email": f"reader{i}@example.com",
                        "email_canonical": f"reader{i}@example.com",
                        "first_name": f"Reader{i}",
                        "status": "confirmed",
                        "source": "bench",
                        "created_at": now,
                        "confirmed_at": now,
                        "bounce_count": 0,
                    }
                    for i in range(start, min(n, start + 5000))
                ],
            )
        db.session.commit()
        ids = db.session.execute(select(Subscriber.id, Subscriber.email)).all()
        every = round(1 / coupon_share) if coupon_share else 0
        holders = [(sid, email) for k, (sid, email) in enumerate(ids) if every and k % every == 0]
        rows, nonces = [], {}
        for sid, email in holders:
            nonce = codes.new_nonce()
            nonces[sid] = nonce
            rows.append(
                {
                    "offer_id": offer_id,
                    "subscriber_id": sid,
                    "owner_key": owner_key(email),
                    "nonce": nonce,
                    "code_digest": codes.code_for(secret, nonce).digest(secret),
                    "status": "issued",
                    "issued_at": now,
                    "expires_at": now + timedelta(days=90),
                }
            )
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Coupon), rows[start : start + 5000])
        db.session.commit()
        coupon_ids = dict(db.session.execute(select(Coupon.subscriber_id, Coupon.id)).all())
        readers = []
        for sid, email in ids:
            code = url = None
            if sid in nonces:
                code = codes.code_for(secret, nonces[sid]).display
                token = coupon_page_token(Coupon(id=coupon_ids[sid]))
                url = f"{app.config['BASE_URL']}/coupon/{token}"
            readers.append(ReaderRow(sid, email, email.split("@")[0].title(), code, url))
        db.session.remove()
    return readers, staff_id


def rendered(app) -> tuple[str, str]:
    from campaign.campaigns.rendering import render_campaign

    with app.app_context():
        result = render_campaign(SUBJECT, PREHEADER, BODY)
    return result.html, result.text


# ---------------------------------------------------------------- the ceilings


def _fill(template: str, reader: ReaderRow, token: str, html: bool) -> str:
    """A plain loop's personalisation: string replacement on the rendered template."""
    from html import escape

    name = escape(reader.first_name) if html else reader.first_name
    text = template.replace("XQFNAMEH0QX", name).replace("XQFNAMET0QX", name)
    text = text.replace("XQUNSUBQX", token)
    text = text.replace("XQCCODEQX", reader.coupon_code or "")
    text = text.replace("XQCURLQX", reader.coupon_url or "")
    text = text.replace("XQWSTARTQX", "").replace("XQWENDQX", "")
    return text.replace("XQCSTARTQX", "").replace("XQCENDQX", "")


def build_with_email_package(html: str, text: str, reader: ReaderRow, signer) -> bytes:
    token = signer.dumps(reader.subscriber_id)
    unsubscribe = f"https://clinic.example/unsubscribe/{token}"
    message = EmailMessage(policy=POLICY)
    message["Subject"] = SUBJECT
    message["From"] = common.SENDER
    message["To"] = reader.email
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="clinic.example")
    message["List-Unsubscribe"] = f"<{unsubscribe}>, <mailto:news@clinic.example>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_fill(text, reader, token, html=False))
    message.add_alternative(_fill(html, reader, token, html=True), subtype="html")
    return message.as_bytes()


def _ceiling_worker(mode, port, readers, html, text, prebuilt, barrier, results) -> None:
    from itsdangerous import URLSafeTimedSerializer

    signer = URLSafeTimedSerializer(common.SECRET_KEY, salt="subscriber-unsubscribe")
    host = smtplib.SMTP("127.0.0.1", port)
    host.ehlo()
    barrier.wait()
    started = time.perf_counter()
    for reader in readers:
        data = build_with_email_package(html, text, reader, signer) if mode == "a" else prebuilt
        host.sendmail("news@clinic.example", [reader.email], data)
    results.put(time.perf_counter() - started)
    host.quit()


def ceiling(mode: str, port: int, readers, html: str, text: str, processes: int) -> float:
    """Messages per second of ``processes`` plain senders, one connection each."""
    from itsdangerous import URLSafeTimedSerializer

    signer = URLSafeTimedSerializer(common.SECRET_KEY, salt="subscriber-unsubscribe")
    prebuilt = build_with_email_package(html, text, readers[0], signer)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    shares = [readers[k::processes] for k in range(processes)]
    workers = [
        context.Process(
            target=_ceiling_worker,
            args=(mode, port, share, html, text, prebuilt, barrier, results),
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for _ in workers:
        results.get(timeout=3600)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return len(readers) / elapsed


# ---------------------------------------------------------------- the engine


class Worker:
    """``celery -A worker worker`` as production runs it (prefork pool)."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int) -> None:
        import os
        import subprocess

        self.log = log
        command = [
            common.PYTHON, "-m", "celery", "-A", "worker", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--hostname", f"bench-{uuid.uuid4().hex[:6]}@%h",
        ]  # fmt: skip
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=common.ROOT, env={**os.environ, **env}, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                common.stop(self.process)
                raise RuntimeError("worker did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.1)

    def peak_rss_mb(self) -> float:
        """The largest peak RSS among the pool processes (where sending happens)."""
        pool = common.children(self.process.pid)
        return max((common.peak_rss_mb(pid) for pid in pool), default=0.0)

    def cpu_seconds(self) -> float:
        """CPU time used by the pool processes."""
        return sum(common.cpu_seconds(pid) for pid in common.children(self.process.pid))

    def stop(self) -> None:
        common.stop(self.process)


def _profilers(worker: Worker, profile: Path | None) -> list:
    """py-spy on each pool process, writing collapsed stacks until stopped."""
    import subprocess

    if profile is None:
        return []
    profile.mkdir(parents=True, exist_ok=True)
    # --nonblocking: never pause a process that may hold a database lock.
    command = ["py-spy", "record", "--nonblocking", "--format", "raw", "--rate", "200"]
    return [
        subprocess.Popen(
            [*command, "--pid", str(pid), "--output", str(profile / f"pool-{pid}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in common.children(worker.process.pid)
    ]


def engine_run(
    app, env, staff_id: int, n: int, log: Path, processes: int, profile: Path | None = None
) -> tuple[float, float]:
    """One campaign through the real pipeline: (messages per second, worker peak RSS MB)."""
    import signal
    from collections import Counter

    from sqlalchemy import func, select

    from campaign.campaigns import services
    from campaign.campaigns.models import Campaign, Delivery
    from campaign.database import utcnow
    from campaign.extensions import db
    from campaign.staff.models import Staff

    worker = Worker(env, log, processes)
    profilers = _profilers(worker, profile)
    try:
        with app.app_context():
            staff = db.session.get(Staff, staff_id)
            campaign = services.create_campaign(staff, SUBJECT, BODY, PREHEADER)
            services.schedule(campaign, utcnow(), staff)
            db.session.commit()
            campaign_id = campaign.id
            started = time.perf_counter()
            # What the dispatcher (beat, each minute) does: start due campaigns.
            assert services.start_due_campaigns() == [campaign_id]
            db.session.commit()
            deadline = time.monotonic() + max(600, n / 50)
            while True:
                db.session.expire_all()
                status = db.session.scalar(select(Campaign.status).filter_by(id=campaign_id))
                db.session.commit()
                if status != "sending":
                    break
                if time.monotonic() > deadline or worker.process.poll() is not None:
                    raise RuntimeError("campaign did not finish:\n" + log.read_text()[-3000:])
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            counts = Counter(
                dict(
                    db.session.execute(
                        select(Delivery.status, func.count())
                        .filter_by(campaign_id=campaign_id)
                        .group_by(Delivery.status)
                    ).all()
                )
            )
            first, last, begun = db.session.execute(
                select(func.min(Delivery.sent_at), func.max(Delivery.sent_at), Campaign.started_at)
                .join(Campaign, Campaign.id == Delivery.campaign_id)
                .where(Delivery.campaign_id == campaign_id)
                .group_by(Campaign.started_at)
            ).one()
            db.session.remove()
        print(
            f"    first message {(first - begun).total_seconds():.2f} s after the start, "
            f"last {(last - begun).total_seconds():.2f} s, campaign sent {elapsed:.2f} s",
            flush=True,
        )
        if status != "sent" or counts["sent"] != n:
            raise RuntimeError(f"campaign ended {status} with {dict(counts)}")
        print(f"    pool CPU {worker.cpu_seconds() / n * 1e6:.0f} us/message", flush=True)
        return n / elapsed, worker.peak_rss_mb()
    finally:
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=30)
        worker.stop()


# ---------------------------------------------------------------- the run


def bench_size(
    database: str,
    n: int,
    runs: int,
    processes: int,
    ceiling_n: int,
    profile: Path | None = None,
    engine_only: bool = False,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp, common.smtp_sink() as port:
        var = Path(tmp)
        env = common.settings(
            var,
            database,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(port),
            SEND_RATE_PER_SECOND="0",  # no throttle: we measure the engine, not the limit
            CAMPAIGN_PARALLEL=str(processes),
            WORKER_CONCURRENCY=str(processes),
        )
        if database == "postgresql":
            common.flush_redis()
        app = common.make_app(env)
        common.reset_database(app)
        readers, staff_id = seed(app, n, coupon_share=0.5)
        html, text = rendered(app)
        sample = readers[: min(n, ceiling_n)]
        figures: dict[str, list[float]] = {"a": [], "b": [], "engine": [], "rss": []}
        for run in range(runs):
            if engine_only:
                figures["a"].append(float("nan"))
                figures["b"].append(float("nan"))
            else:
                figures["a"].append(ceiling("a", port, sample, html, text, processes))
                figures["b"].append(ceiling("b", port, sample, html, text, processes))
            log = var / f"worker-{run}.log"
            rate, rss = engine_run(app, env, staff_id, n, log, processes, profile)
            figures["engine"].append(rate)
            figures["rss"].append(rss)
            print(
                f"  run {run + 1}: engine {rate:7.0f}/s  (a) {figures['a'][-1]:7.0f}/s  "
                f"(b) {figures['b'][-1]:7.0f}/s  worker peak RSS {rss:.0f} MB",
                flush=True,
            )
        with app.app_context():
            from campaign.extensions import db

            db.engine.dispose()
    return {key: common.median(values) for key, values in figures.items()}


def report(database: str, n: int, processes: int, result: dict) -> None:
    engine, a, b = result["engine"], result["a"], result["b"]
    print(
        f"send [{database}] n={n} processes={processes} (medians)\n"
        f"  engine       {engine:8.0f} msg/s   ({n / engine:6.1f} s for {n})\n"
        f"  ceiling (a)  {a:8.0f} msg/s   email package + smtplib, no database\n"
        f"  ceiling (b)  {b:8.0f} msg/s   pre-built bytes\n"
        f"  engine/(a)   {engine / a:8.2f}x   (target >= 1.0)\n"
        f"  engine/(b)   {engine / b:8.2f}x   (target >= 0.4)\n"
        f"  worker peak RSS {result['rss']:.0f} MB",
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="readers (repeatable)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--ceiling-n", type=int, default=20000, help="messages per ceiling measurement (at most)"
    )
    parser.add_argument("--profile", type=Path, help="write py-spy stacks of the pool here")
    parser.add_argument("--engine-only", action="store_true", help="skip the ceilings")
    args = parser.parse_args(argv)
    sizes = sorted(args.n or [10000])
    if args.db == "postgresql" and not (common.postgres_available() and common.redis_available()):
        raise SystemExit(f"PostgreSQL ({common.POSTGRES_URL}) or Redis is not reachable")
    print(f"machine: {common.machine()}", flush=True)
    results = {}
    for n in sizes:
        print(f"send [{args.db}] n={n}: {args.runs} runs", flush=True)
        results[n] = bench_size(
            args.db, n, args.runs, args.processes, args.ceiling_n, args.profile, args.engine_only
        )
        report(args.db, n, args.processes, results[n])
    if len(sizes) > 1:
        low, high = sizes[0], sizes[-1]
        growth = results[high]["rss"] - results[low]["rss"]
        print(
            f"worker peak RSS: {results[low]['rss']:.0f} MB at {low}, "
            f"{results[high]['rss']:.0f} MB at {high}: grows {growth:+.1f} MB (target < 20)",
            flush=True,
        )
    return results


if __name__ == "__main__":
    main()

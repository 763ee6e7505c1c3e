"""The HTTP gateway against `ioc produce`, on the same events, in one run, on a real broker.

    python -m benchmarks.gateway                          # its own KafkaBroker; installs `wrk` if missing
    python -m benchmarks.gateway --client kafka-python    # the gateway's SDK on kafka-python
    python -m benchmarks.gateway --events 1000000 --json out.json

Phases, each on a fresh topic, each checked at the end (the topic's end offsets add up to the events sent,
nothing lost, nothing doubled):

1. `ioc produce FILE` of N events as JSON lines (the CLI, a process of its own; its wall time);
2. `POST /v1/events` through `ioc gateway` (a process) with `wrk` (keep-alive connections), bodies of 500
   events, every body distinct (a repeated body would be answered `duplicate` without being sent); the
   events/s are the accepted events over wrk's duration, then the topic is checked;
3. the latency of 100-event requests at about half of phase 2's event rate (wrk's `delay()` paces each
   connection, less the answer time a 4-second calibration run measured), on a fresh topic: wrk's
   percentiles (p50, p99); the topic then holds the calibration's events and the run's.

Not a pytest test: it takes minutes and its figures depend on the machine (2 cores shared with others).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from kafka import KafkaConsumer, TopicPartition

from benchmarks.harness import ROOT, console, kafka, load_average, machine_info, new_topic
from producers.gateway.keys import hash_key, new_key

ICT = timezone(timedelta(hours=7))
PARTITIONS = 6
_LUA = """
local bodies = {}
local n = 0
local key = os.getenv("GW_KEY")
local delay_ms = tonumber(os.getenv("GW_DELAY_MS") or "0")
local dir = os.getenv("GW_BODIES")
local count = tonumber(os.getenv("GW_COUNT"))
local offset = 0
accepted = 0
local threads = {}

function setup(thread)
  thread:set("first", offset)
  offset = offset + 1
  table.insert(threads, thread)
end

function init(args)
  for i = 0, count - 1 do
    local f = io.open(dir .. "/" .. i .. ".json", "rb")
    bodies[i] = f:read("*a")
    f:close()
  end
  n = first
  stride = tonumber(os.getenv("GW_THREADS"))
  accepted = 0
end

function request()
  local body = bodies[n % count]
  n = n + stride
  return wrk.format("POST", "/v1/events", {["X-API-Key"] = key, ["Content-Type"] = "application/json"}, body)
end

function delay()
  return delay_ms
end

function response(status, headers, body)
  local a = string.match(body, '"accepted": (%d+)')
  if a then accepted = accepted + tonumber(a) end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("accepted") or 0) end
  io.write(string.format("ACCEPTED %d\\n", total))
  io.write(string.format("P50_MS %.2f\\nP90_MS %.2f\\nP99_MS %.2f\\n", latency:percentile(50) / 1000,
      latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
"""


def events(run: str, count: int) -> list[dict[str, Any]]:
    base = datetime(2026, 3, 2, 8, tzinfo=ICT)
    return [{"event_id": f"{run}-{n}", "schema": "dossier-event/1", "type": "received",
             "occurred_at": (base + timedelta(seconds=n)).isoformat(), "dossier": f"{run}-D{n}",
             "agency": "STP", "procedure": "2.000488", "channel": "online"} for n in range(count)]


def end_offsets(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return int(sum(consumer.end_offsets(parts).values()))
    finally:
        consumer.close()


def wait_offsets(bootstrap: str, topic: str, expected: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    got = end_offsets(bootstrap, topic)
    while got < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        got = end_offsets(bootstrap, topic)
    return got


@contextmanager
def gateway(work: Path, bootstrap: str, topic: str, key: str, client: str) -> Iterator[str]:
    keys = work / "keys.txt"
    keys.write_text(f"STP {hash_key(key)}\n")
    port = 18000 + os.getpid() % 1000
    spool = work / f"spool-{topic}.sqlite"
    env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": bootstrap, "IOC_EVENTS_TOPIC": topic,
           "IOC_GATEWAY_PORT": str(port), "IOC_GATEWAY_KEYS": str(keys), "IOC_GATEWAY_SPOOL": str(spool),
           "IOC_GATEWAY_CLIENT": client, "IOC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    log = (work / "gateway.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "ioc.cli", "gateway"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"gateway did not start: {(work / 'gateway.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()


def wrk(url: str, bodies: Path, count: int, key: str, connections: int, seconds: int,
        delay_ms: float = 0, threads: int = 1) -> dict[str, float]:
    script = bodies / "post.lua"
    script.write_text(_LUA)
    env = {**os.environ, "GW_KEY": key, "GW_BODIES": str(bodies), "GW_COUNT": str(count),
           "GW_DELAY_MS": str(delay_ms), "GW_THREADS": str(threads)}
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url + "/v1/events"], capture_output=True, text=True, env=env,
                         check=True).stdout
    found = {name: float(value) for name, value in re.findall(r"^(ACCEPTED|P50_MS|P90_MS|P99_MS) ([\d.]+)$",
                                                             out, re.MULTILINE)}
    found["requests_per_s"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    found["non_2xx"] = float(non_2xx.group(1)) if non_2xx else 0.0
    found["seconds"] = seconds
    return found


def write_bodies(directory: Path, items: list[dict[str, Any]], size: int) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for start in range(0, len(items), size):
        (directory / f"{count}.json").write_text(json.dumps(items[start:start + size]))
        count += 1
    return count


def install_wrk() -> bool:
    """Install the load generator for this benchmark only (Debian's `wrk`), as root or with sudo -n."""
    root = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if (root and shutil.which("sudo") is None) or shutil.which("apt-get") is None:
        return False
    console.print("installing wrk (apt-get), for this benchmark only")

    def apt(*command: str) -> bool:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        return subprocess.run([*root, "apt-get", *command], capture_output=True, env=env).returncode == 0

    if not apt("install", "-y", "-qq", "wrk") and apt("update", "-qq"):
        apt("install", "-y", "-qq", "wrk")
    return shutil.which("wrk") is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", help="an existing broker (default: start a local one)")
    parser.add_argument("--events", type=int, default=800_000,
                        help="events prepared (each body is sent once: enough for --seconds at peak rate)")
    parser.add_argument("--client", choices=["kafka-python", "librdkafka"], default="librdkafka",
                        help="the Kafka client of the gateway and of `ioc produce` (the gateway's default)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None and not install_wrk():
        console.print("wrk is not installed and could not be (apt-get install wrk): the gateway benchmark "
                      "needs it")
        return 2
    results: dict[str, Any] = {"machine": machine_info(), "client": args.client, "events": args.events,
                               "load_before": load_average()}
    key = new_key()
    with kafka(args.bootstrap, PARTITIONS) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        items = events("bench", args.events)

        # 1. ioc produce of the same events as JSON lines
        topic = new_topic(bootstrap, "gw-produce", PARTITIONS)
        lines = work / "events.jsonl"
        lines.write_text("".join(json.dumps(e) + "\n" for e in items))
        env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": bootstrap, "IOC_EVENTS_TOPIC": topic,
               "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "ioc.cli", "produce", str(lines), "--spool",
                        str(work / "produce-spool.sqlite"), "--client", args.client], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        elapsed = time.monotonic() - started
        stored = wait_offsets(bootstrap, topic, args.events)
        results["ioc_produce"] = {"seconds": elapsed, "events_per_s": args.events / elapsed,
                                  "in_topic": stored}
        console.print(f"ioc produce: {args.events / elapsed:,.0f} events/s ({stored} in the topic)")

        # 2. the gateway, batches of 500, as fast as wrk can
        topic = new_topic(bootstrap, "gw-http", PARTITIONS)
        bodies = work / "b500"
        count = write_bodies(bodies, items, 500)
        with gateway(work, bootstrap, topic, key, args.client) as url:
            peak = wrk(url, bodies, count, key, args.connections, args.seconds)
        accepted = int(peak["ACCEPTED"])
        stored = wait_offsets(bootstrap, topic, accepted)
        if accepted >= args.events:
            console.print("[yellow]every body was sent: use more --events for a longer run[/yellow]")
        results["gateway_500"] = {**peak, "events_per_s": accepted / args.seconds, "in_topic": stored}
        console.print(f"gateway, 500/request: {accepted / args.seconds:,.0f} events/s accepted, "
                      f"{stored} in the topic (accepted {accepted}), p99 {peak['P99_MS']:.0f} ms")

        # 3. 100-event requests at about half that event rate
        topic = new_topic(bootstrap, "gw-latency", PARTITIONS)
        bodies = work / "b100"
        fresh = events("lat", args.events)
        count = write_bodies(bodies, fresh, 100)
        target = max(1.0, accepted / args.seconds / 2 / 100)  # requests/s
        paced = args.connections * 4  # many paced connections: the delay, not the answer, sets the rate
        # wrk waits `delay` then sends and waits for the answer, so a connection's cycle is delay + answer
        # time: a short calibration run (other events) measures the answer time at this pace, and the
        # measured run subtracts it so that the cycle is paced * 1000 / target
        calibration = work / "b100-cal"
        calibration_count = write_bodies(calibration, events("cal", min(args.events, int(target * 500))), 100)
        delay_ms = max(0.0, paced * 1000 / target - peak["P50_MS"] / 5)
        with gateway(work, bootstrap, topic, key, args.client) as url:
            calibrated = wrk(url, calibration, calibration_count, key, paced, 4, delay_ms=delay_ms)
            delay_ms = max(0.0, paced * 1000 / target - calibrated["P50_MS"])
            half = wrk(url, bodies, count, key, paced, args.seconds, delay_ms=delay_ms)
        stored = wait_offsets(bootstrap, topic, int(calibrated["ACCEPTED"] + half["ACCEPTED"]))
        results["gateway_100_half_load"] = {**half, "target_requests_per_s": target, "in_topic": stored,
                                            "delay_ms": delay_ms, "calibration": calibrated,
                                            "events_per_s": half["ACCEPTED"] / args.seconds}
        console.print(f"gateway, 100/request at ~{target * 100:,.0f} events/s: "
                      f"{half['ACCEPTED'] / args.seconds:,.0f} events/s, p50 {half['P50_MS']:.1f} ms, "
                      f"p99 {half['P99_MS']:.1f} ms, {stored} in the topic")
    results["load_after"] = load_average()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

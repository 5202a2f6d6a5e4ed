"""The production stack on loopback: nginx (TLS) -> gunicorn with production settings, PostgreSQL,
Redis, the urgent and the background Celery worker, beat, and the SMS.online simulator, all started as
a server starts them.

Needs PostgreSQL (TEST_POSTGRES_URL), nginx and redis-server; skipped, with the reason, elsewhere.
`make test` runs these once, in their own stage (`-m stack`).
"""

import json
import re
import signal
import subprocess
import threading
import time

import pytest
import requests
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import child_processes
from harness.stack import BOSS_PASSWORD, Stack, as_local, missing_parts, rent_form_fields, unit_commands

from ..admin.test_browser import CHROMIUM, CHROMIUM_ARGS, choose_telegram_in_ukraine, log_in
from ..conftest import PROJECT, wait_until

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(bool(missing_parts()), reason="; ".join(missing_parts())),
]

CONCURRENT_WEBHOOKS = 200
LOGIN_FAILURE_LIMIT = 5  # RENTDESK_LOGIN_FAILURE_LIMIT's default
METRICS_TOKEN = "stack-metrics-" + "t" * 32


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("stack"), overrides={"RENTDESK_METRICS_TOKEN": METRICS_TOKEN})
    try:
        running.start()
        yield running
    finally:
        running.stop()
        print(running.log_tail())  # shown by pytest for a failing test


def rent_by_cli(stack: Stack) -> dict:
    output = stack.manage(
        ["rent_number", "--account", "Sandbox", "--service", "tg", "--country", "1", "--as", "boss", "--json"]
    )
    result = json.loads(output)
    assert result["ok"], result
    return result["rental"]


def simulator_rent(stack: Stack, provider_id: str) -> dict:
    rents = requests.get(f"{stack.simulator_url}/_control/rents", timeout=10).json()
    return next(rent for rent in rents if str(rent["id"]) == str(provider_id))


def test_the_login_page_and_its_css_are_served_over_https(stack):
    session = stack.session()
    page = session.get(f"{stack.url}/admin/login/", timeout=10)
    assert page.status_code == 200 and "Rentdesk" in page.text
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in page.headers["Set-Cookie"]  # the CSRF cookie never travels over plain http
    css_path = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text).group(1)
    css = session.get(stack.url + css_path, headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert css.headers["Content-Encoding"] == "gzip" and "immutable" in css.headers["Cache-Control"]
    assert "body" in css.text


def test_failed_logins_lock_out_the_address_nginx_saw_not_the_person(stack):
    """Every request reaches gunicorn from nginx: the lockout must count by the address nginx saw
    (DJANGO_TRUST_X_FORWARDED_FOR, set by the environment file), or anyone could lock anyone out."""
    stack.manage(["createsuperuser", "--no-input", "--username", "olena", "--email", "olena@example.test"])
    guesser, olena = stack.session(from_address="127.0.0.2"), stack.session(from_address="127.0.0.3")
    forged = {"X-Forwarded-For": "198.51.100.9"}  # nginx appends 127.0.0.2, the address it saw
    failures = [stack.log_in(guesser, "olena", "wrong", forged).status_code for _ in range(LOGIN_FAILURE_LIMIT)]
    assert failures == [200] * (LOGIN_FAILURE_LIMIT - 1) + [429]  # the form again, then locked out
    assert stack.log_in(guesser, "olena", BOSS_PASSWORD).status_code == 429  # the right password too
    signed_in = stack.log_in(olena, "olena", BOSS_PASSWORD)  # olena herself, from her own machine
    assert signed_in.status_code == 200 and "Log out" in signed_in.text
    locked = "SELECT ip_address FROM axes_accessattempt WHERE username = %s AND failures_since_start >= %s"
    assert [str(address) for (address,) in stack.sql(locked, "olena", LOGIN_FAILURE_LIMIT)] == ["127.0.0.2"]


def test_plain_http_is_sent_to_https(stack):
    via_nginx = requests.get(f"http://127.0.0.1:{stack.ports['http']}/admin/", allow_redirects=False, timeout=10)
    assert via_nginx.status_code == 301 and via_nginx.headers["Location"].startswith("https://")
    direct = requests.get(f"{stack.gunicorn_url}/admin/login/", headers={"Host": "127.0.0.1"},
                          allow_redirects=False, timeout=10)  # fmt: skip
    assert direct.status_code == 301 and direct.headers["Location"] == "https://127.0.0.1/admin/login/"


def test_healthz_answers_503_naming_redis_while_it_is_stopped_and_readyz_keeps_the_web_in(stack):
    healthy = stack.session().get(f"{stack.url}/healthz", timeout=10)
    assert healthy.status_code == 200 and healthy.json()["status"] == "ok"
    # Probes on the host ask gunicorn directly, over plain http.
    assert requests.get(f"{stack.gunicorn_url}/healthz", headers={"Host": "127.0.0.1"}, timeout=10).status_code == 200
    admin = stack.logged_in()
    stack.stop_redis()
    try:
        down = stack.session().get(f"{stack.url}/healthz", timeout=30)
        assert down.status_code == 503 and "broker" in down.json()["down"]
        # A load balancer asks /readyz: this web still stores webhooks, and /livez: it answers.
        for probe in ("readyz", "livez"):
            plain = requests.get(f"{stack.gunicorn_url}/{probe}", headers={"Host": "127.0.0.1"}, timeout=10)
            assert plain.status_code == 200, (probe, plain.text)
        dashboard = admin.get(f"{stack.url}/admin/", timeout=30)
        assert dashboard.status_code == 200 and "Does not answer." in dashboard.text
    finally:
        stack.start_redis()
    # Back once Redis is: beat takes its lock again, the worker reconnects.
    assert wait_until(lambda: stack.answers("/healthz"), seconds=60, every=0.5), stack.log_tail()


def test_200_webhooks_at_once_are_all_answered_200_and_all_stored(stack):
    rental = rent_by_cli(stack)
    webhook_url = simulator_rent(stack, rental["provider_rent_id"])["webhook_url"]
    assert webhook_url.startswith(stack.url + "/hooks/sms/")
    barrier = threading.Barrier(CONCURRENT_WEBHOOKS)
    answers: list[object] = []

    def deliver(n: int) -> None:
        body = {"rentId": rental["provider_rent_id"], "sms": {"phoneFrom": "Bank", "text": f"Code {n:04d}",
                                                          "date": "2030-01-01 12:00:00"}}  # fmt: skip
        barrier.wait()
        try:
            answers.append(requests.post(webhook_url, json=body, timeout=60, verify=stack.certificate).status_code)
        except requests.RequestException as error:  # a reset or a refused connection
            answers.append(repr(error))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(CONCURRENT_WEBHOOKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * CONCURRENT_WEBHOOKS, [a for a in answers if a != 200][:5]
    stored = stack.sql("SELECT count(*) FROM rentals_webhookdelivery WHERE rental_id = %s", rental["id"])
    assert stored == [(CONCURRENT_WEBHOOKS,)]  # stored before each 200
    assert _sms_count_reaches(stack, rental["id"], CONCURRENT_WEBHOOKS), stack.log("worker-urgent")[-3000:]


def test_a_chunked_webhook_is_stored_through_nginx_and_straight_from_gunicorn(stack):
    """A body sent in chunks has no Content-Length: nginx passes it on whole, gunicorn alone does not."""
    rental = rent_by_cli(stack)
    path = simulator_rent(stack, rental["provider_rent_id"])["webhook_url"].removeprefix(stack.url)
    targets = [(stack.url, {}), (stack.gunicorn_url, {"Host": "127.0.0.1", "X-Forwarded-Proto": "https"})]
    for n, (base, headers) in enumerate(targets):
        sms = {"rentId": rental["provider_rent_id"], "sms": {"phoneFrom": "Bank", "text": f"Code 90{n}0",
                                                         "date": "2030-01-01 12:00:00"}}  # fmt: skip
        chunks = iter([json.dumps(sms)[:20].encode(), json.dumps(sms)[20:].encode()])  # a generator: chunked
        answer = requests.post(base + path, data=chunks, timeout=30, verify=stack.certificate,
                               headers={"Content-Type": "application/json", **headers})  # fmt: skip
        assert answer.status_code == 200, (base, answer.status_code, answer.text[:200])
    assert _sms_count_reaches(stack, rental["id"], 2), stack.log("worker-urgent")[-3000:]
    # The token is the rental's secret: nginx's access log keeps the request, not the token.
    token = path.removeprefix("/hooks/sms/").strip("/")
    logged = stack.nginx_access_log.read_text()
    assert "POST /hooks/sms/[token]/ " in logged and token not in logged


def test_make_reload_takes_the_release_on_disk_into_service_while_every_webhook_is_answered(stack):
    """The documented upgrade: `make reload` migrates, collects static files and has gunicorn replace
    its workers, while webhooks keep coming (SMS.online never sends one again) and people browse."""
    rental = rent_by_cli(stack)
    webhook_url = simulator_rent(stack, rental["provider_rent_id"])["webhook_url"]
    master = int((stack.directory / "web.pid").read_text())
    workers_before = child_processes(master)
    session, answers, reloading = stack.logged_in(), [], threading.Event()

    def keep_sending() -> None:
        n = 0
        while not reloading.is_set() or n < 10:  # at 20 a second, before and throughout the reload
            body = {"rentId": rental["provider_rent_id"], "sms": {"phoneFrom": "Bank", "text": f"Reload {n:04d}",
                                                              "date": "2030-01-01 12:00:00"}}  # fmt: skip
            answers.append(requests.post(webhook_url, json=body, timeout=30, verify=stack.certificate).status_code)
            answers.append(session.get(f"{stack.url}/admin/rentals/rental/", timeout=30).status_code)
            n += 1
            time.sleep(0.05)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        output = stack.run(["make", "reload"])
    finally:
        reloading.set()
        sender.join(timeout=120)
    assert "worker(s) replaced" in output, output
    assert workers_before and child_processes(master).isdisjoint(workers_before)  # the same master, new workers
    assert answers and set(answers) == {200}, [a for a in answers if a != 200][:5]
    assert _sms_count_reaches(stack, rental["id"], len(answers) // 2), stack.log("worker-urgent")[-3000:]


def scrape(stack: Stack) -> dict[str, float]:
    """/metrics through nginx, as Prometheus reads it: each sample's value by its name and labels."""
    with stack.session() as session:
        response = session.get(stack.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text[:300]
    families = text_string_to_metric_families(response.text)
    return {
        sample.name + json.dumps(sample.labels, sort_keys=True): sample.value for f in families for sample in f.samples
    }


def test_metrics_through_nginx_time_each_sms_and_count_the_rent(stack):
    with stack.session() as session:
        assert session.get(stack.url + "/metrics", timeout=10).status_code == 401
    before = scrape(stack).get("rentdesk_webhook_on_screen_seconds_count{}", 0)
    rental = rent_by_cli(stack)
    webhook_url = simulator_rent(stack, rental["provider_rent_id"])["webhook_url"]
    for n in range(5):
        body = {"rentId": rental["provider_rent_id"], "sms": {"phoneFrom": "Bank", "text": f"Code {n:04d}",
                                                          "date": "2030-01-01 12:00:00"}}  # fmt: skip
        assert requests.post(webhook_url, json=body, timeout=30, verify=stack.certificate).status_code == 200
    assert _sms_count_reaches(stack, rental["id"], 5), stack.log("worker-urgent")[-3000:]
    # Counted by the urgent worker, read through the web: one figure for the whole desk.
    assert wait_until(lambda: scrape(stack)["rentdesk_webhook_on_screen_seconds_count{}"] == before + 5, seconds=10)
    samples = scrape(stack)
    rents = '{"account": "Sandbox", "action": "getRentNumber", "outcome": "OK"}'
    assert samples["rentdesk_provider_calls_total" + rents] >= 1
    assert samples['rentdesk_rent_attempts_total{"state": "succeeded", "token": ""}'] >= 1
    assert samples["rentdesk_redis_up{}"] == 1


def _sms_count_reaches(stack: Stack, rental_id: int, count: int) -> bool:
    query = "SELECT count(*) FROM rentals_smsmessage WHERE rental_id = %s"
    return wait_until(lambda: stack.sql(query, rental_id) == [(count,)], seconds=120, every=0.5)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian package 'chromium')")
def test_a_rent_through_the_admin_and_its_sms_in_a_browser(stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(ignore_https_errors=True)  # the stack's certificate is self-signed
        page.set_default_timeout(30_000)
        try:
            log_in(page, stack.url, "boss", BOSS_PASSWORD)
            choose_telegram_in_ukraine(page, stack.url, hours=24)
            page.fill("#id_label", "Stack test")
            page.click("#rent-number-form input[type=submit]")
            message = page.inner_text(".messagelist .success")
            # Read as people read it, "+380 67 123 4567": the simulator knows it by its digits.
            number = re.sub(r"\D", "", re.search(r"Rented (\+[\d ]+) until", message).group(1))
            rent = next(r for r in requests.get(f"{stack.simulator_url}/_control/rents", timeout=10).json()
                        if r["number"] == number)  # fmt: skip
            # SMS.online's webhook for it: through nginx, stored, processed by the worker.
            injected = requests.post(f"{stack.simulator_url}/_control/sms", timeout=30,
                                     json={"rent_id": rent["id"], "text": "Your code is 731904"}).json()  # fmt: skip
            assert injected["webhook_status"] == 200
            rental_page = page.url

            def sms_shown() -> bool:  # the worker stores it within moments: look again until it shows
                page.goto(rental_page)
                return "731904" in page.inner_text("#content")

            assert wait_until(sms_shown, seconds=60, every=0.5), stack.log("worker-urgent")[-3000:]
        finally:
            browser.close()


def test_a_nightly_backup_restores_with_the_kept_encryption_keys(stack):
    rent_by_cli(stack)
    (command,) = unit_commands("rentdesk-backup.service", "ExecStart")
    backups = stack.directory / "backups"
    stack.run(as_local(command), env={**stack.env, "BACKUP_DIR": str(backups)})
    (dump,) = backups.glob("rentdesk-*.dump")
    restored = stack.create_database()
    stack.run(["pg_restore", "--no-owner", f"--dbname={restored}", str(dump)])
    on_restored = {**stack.env, "DATABASE_URL": restored}
    rentals = "SELECT count(*) FROM rentals_rental"
    assert stack.sql(rentals, url=restored) == stack.sql(rentals) != [(0,)]
    # The provider keys in it can be read with the kept API_KEY_ENCRYPTION_KEYS, and only with them.
    python = [f"{PROJECT}/.venv/bin/python", "manage.py"]
    assert "Re-encrypted 1 API key(s)." in stack.run([*python, "rotate_api_keys"], env=on_restored)
    other_keys = {**on_restored, "API_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    refused = subprocess.run([*python, "rotate_api_keys"], cwd=PROJECT, env=other_keys, capture_output=True, text=True)
    assert refused.returncode != 0 and "cannot be decrypted" in refused.stderr


def test_what_the_third_attack_got_through_is_refused_on_the_stack(stack):
    """The holes an attack on this stack found, tried again the same way through nginx: charsets that
    are not text, the webhook token in any log, a list or an action given nonsense, and headers that
    tell too much or guard too little."""
    rental = rent_by_cli(stack)
    webhook_url = simulator_rent(stack, rental["provider_rent_id"])["webhook_url"]
    token = webhook_url.rstrip("/").rsplit("/", 1)[1]
    session, admin = stack.session(), stack.logged_in()
    rot13 = {"Content-Type": "application/json; charset=rot13"}
    assert session.post(webhook_url, data=b"{}", headers=rot13, timeout=10).status_code == 415
    assert session.post(f"{stack.url}/hooks/sms/not-a-token/", data=b"{}", headers=rot13, timeout=10).status_code == 415
    login = session.post(f"{stack.url}/admin/login/", data=b"username=x", timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=rot13"})  # fmt: skip
    assert login.status_code == 415
    api = session.get(f"{stack.url}/api/rentals?x=1", headers={"Content-Type": "text/plain; charset=zlib"}, timeout=10)
    assert api.status_code == 415
    # Requests Django refuses on the webhook's address: none may write its token into a log.
    assert session.get(webhook_url, timeout=10).status_code == 405
    assert session.post(webhook_url, data=b"not an SMS", timeout=10).status_code == 400
    assert session.post(webhook_url, data=b"x" * (2 * 1024 * 1024), timeout=10).status_code == 413  # nginx's own
    logged = {path.name: path.read_text(errors="replace") for path in stack.directory.rglob("*.log")}
    assert [name for name, text in logged.items() if token in text] == []
    # A list given a parameter it does not know, an action given ids that are not ids: 400, no traceback.
    export = admin.get(f"{stack.url}/admin/rentals/rental/export/?foo=1", timeout=10)
    assert export.status_code == 400 and "Traceback" not in export.text
    changelist = admin.get(f"{stack.url}/admin/rentals/rental/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', changelist.text).group(1)
    action = admin.post(f"{stack.url}/admin/rentals/rental/", timeout=10,
                        data={"csrfmiddlewaretoken": csrf, "action": "delete_selected", "_selected_action": "abc"},
                        headers={"Referer": f"{stack.url}/admin/rentals/rental/"})  # fmt: skip
    assert action.status_code == 400 and "Traceback" not in action.text
    # No version to look up, and a policy that keeps scripts to Rentdesk's own files.
    assert changelist.headers["Server"] == "nginx"
    assert "script-src 'self'" in changelist.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in changelist.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_sigterm_lets_the_rent_in_flight_finish(stack):
    """Last: it stops gunicorn. A deploy restarts gunicorn while someone's rent waits on SMS.online."""
    session = stack.logged_in()
    rent_form = f"{stack.url}/admin/rentals/rental/rent/"
    data = {**rent_form_fields(session.get(rent_form, timeout=10).text), "label": "In flight"}
    # SMS.online answers this rent 3 seconds late: gunicorn gets its SIGTERM meanwhile.
    requests.post(f"{stack.simulator_url}/_control/force", json={"action": "getRentNumber", "delay": 3}, timeout=10)
    rentals_before = stack.sql("SELECT count(*) FROM rentals_rental")
    requests_before = len(requests.get(f"{stack.simulator_url}/_control/requests", timeout=10).json())
    outcome: dict[str, object] = {}

    def rent() -> None:
        try:
            outcome["response"] = session.post(rent_form, data=data, headers={"Referer": rent_form}, timeout=60,
                                               allow_redirects=False)  # fmt: skip
        except requests.RequestException as error:
            outcome["error"] = error

    def rent_reached_the_provider() -> bool:
        received = requests.get(f"{stack.simulator_url}/_control/requests", timeout=10).json()[requests_before:]
        return any(r.get("action") == "getRentNumber" for r in received)

    in_flight = threading.Thread(target=rent)
    in_flight.start()
    assert wait_until(rent_reached_the_provider, seconds=30)
    gunicorn = stack.processes["web"]
    gunicorn.send_signal(signal.SIGTERM)
    in_flight.join(timeout=90)
    assert gunicorn.wait(timeout=90) == 0
    assert "error" not in outcome, outcome
    response = outcome["response"]
    assert response.status_code == 302 and "/admin/rentals/rental/" in response.headers["Location"]
    assert stack.sql("SELECT count(*) FROM rentals_rental") == [(rentals_before[0][0] + 1,)]
    assert stack.sql("SELECT label FROM rentals_rental ORDER BY id DESC LIMIT 1") == [("In flight",)]

import base64
import json

from standardwebhooks.webhooks import Webhook

from chalicelib.services.webhook_http import SECRET_PREFIX, new_secret, sign, signed_headers


def test_secret_is_whsec_and_at_least_24_random_bytes():
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) >= 24
    assert new_secret() != secret


def test_signature_verifies_with_the_standard_webhooks_reference():
    secret = new_secret()
    body = json.dumps({"id": "evt_1", "type": "contact.created", "data": {}})
    import time

    now = int(time.time())
    headers = signed_headers(secret, "evt_1", now, body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)


def test_signature_is_hmac_of_id_timestamp_body_under_the_decoded_secret():
    secret = SECRET_PREFIX + base64.b64encode(b"k" * 24).decode()
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"k" * 24, b"msg_1.1700000000.{}", hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_1", 1700000000, "{}") == "v1," + expected


def test_a_tampered_body_does_not_verify():
    secret = new_secret()
    import time

    headers = signed_headers(secret, "evt_2", int(time.time()), '{"a":1}')
    try:
        Webhook(secret).verify('{"a":2}', headers)
    except Exception as error:
        assert "signature" in str(error).lower()
    else:
        raise AssertionError("a tampered body verified")

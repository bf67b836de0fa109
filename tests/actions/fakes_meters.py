"""The portal's meter routes for the action tests, shaped like backend/api/routes/assets.py and
backend/services/meters.py answer them, with the seed's demo values (backend/seed.py).

`install(portal)` adds to a FakePortal: GET /assets/{ref}/meters, GET /assets/{ref}/meters/{code}/history,
POST /assets/{ref}/meter-readings (all or nothing, never lower than the last reading, idempotent) and
POST /assets/{ref}/meter-readings/query (a case meter_reading / query, idempotent).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import httpx

from actions_fakes import FakePortal

UGW = "e-Maintenance (UGW)"
NAMES = {"112": ("112 N&B Grand", "112 B&W Large"), "113": ("113 N&B Petit", "113 B&W Small"),
         "122": ("122 Couleur Grand", "122 Colour Large"), "123": ("123 Couleur Petit", "123 Colour Small")}


def _at(day: str) -> str:
    return f"{day}T09:00:00Z"


# asset number -> (integration base, suffix, {code: [(day, value, source), ...] oldest first})
SEED: Dict[str, Any] = {
    "77996101": ("77995625", "GBAAP", {
        "112": [("2026-09-01", 1840, UGW), ("2026-10-01", 2105, UGW), ("2026-11-02", 2380, UGW)],
        "113": [("2026-10-01", 40110, UGW), ("2026-11-02", 41250, UGW)],
        "122": [("2026-10-01", 1402, UGW), ("2026-11-02", 1520, UGW)],
        "123": [("2026-10-01", 18120, UGW), ("2026-11-02", 18890, UGW)],
    }),
    "80145861": ("78389528", "GBAAP", {
        "112": [("2024-02-08", 6586, UGW)], "113": [("2024-02-08", 153665, UGW)],
        "122": [("2024-02-08", 9792, UGW)], "123": [("2024-02-08", 143312, UGW)],
    }),
    "53463252": ("53460017", "GBAAP", {
        "112": [("2026-10-15", 15230, "Portail")], "113": [("2026-10-15", 88410, "Portail")],
        "122": [("2026-10-15", 4210, "Portail")], "123": [("2026-10-15", 61175, "Portail")],
    }),
}


class MeterBackend:
    """State of the meter routes; `readings[asset][code]` is a list of (read_at, value, source), oldest first."""

    def __init__(self, portal: FakePortal) -> None:
        self.portal = portal
        self.readings: Dict[str, Dict[str, List[tuple]]] = {
            asset: {code: [(_at(day), value, source) for day, value, source in rows] for code, rows in codes.items()}
            for asset, (_, _, codes) in SEED.items()
        }
        self.integration = {asset: (base, suffix) for asset, (base, suffix, _) in SEED.items()}
        self.submissions: Dict[str, Dict[str, Any]] = {}  # idempotency key -> answer
        self.queries: Dict[str, Dict[str, Any]] = {}
        self._submission_seq = 40
        self._case_seq = 32500

    # --- helpers ------------------------------------------------------------------------------------------
    def _asset(self, reference: str) -> Optional[Dict[str, Any]]:
        ref = reference.lower()
        return next((a for a in self.portal.assets
                     if ref in (a["asset_number"].lower(), a["serial"].lower(), (a.get("alias") or "").lower())), None)

    @staticmethod
    def _lang(request: httpx.Request) -> str:
        return "en" if request.headers.get("accept-language", "fr").startswith("en") else "fr"

    @staticmethod
    def _not_found(lang: str) -> httpx.Response:
        return httpx.Response(404, json={"code": "not_found",
                                         "message": "Appareil introuvable." if lang == "fr" else "Device not found."})

    def _meter_out(self, asset: str, code: str, lang: str) -> Dict[str, Any]:
        base, suffix = self.integration[asset]
        rows = self.readings[asset][code]
        last = rows[-1] if rows else None
        return {"code": code, "name": NAMES[code][0 if lang == "fr" else 1],
                "label": {"fr": NAMES[code][0], "en": NAMES[code][1]},
                "integration_id": f"{asset}-{base}-{code}-{suffix}",
                "last_reading": last[1] if last else None, "last_reading_date": last[0] if last else None,
                "last_reading_source": last[2] if last else None}

    # --- routes -------------------------------------------------------------------------------------------
    def meters(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        lang, asset = self._lang(request), self._asset(ref)
        if asset is None:
            return self._not_found(lang)
        number = asset["asset_number"]
        return httpx.Response(200, json=[self._meter_out(number, code, lang) for code in self.readings.get(number, {})])

    def history(self, request: httpx.Request, body: Any, ref: str, code: str) -> httpx.Response:
        lang, asset = self._lang(request), self._asset(ref)
        if asset is None or code not in self.readings.get(asset["asset_number"], {}):
            return self._not_found(lang)
        rows = self.readings[asset["asset_number"]][code]
        return httpx.Response(200, json=[{"value": v, "read_at": at, "source": s, "submitted_by": None}
                                         for at, v, s in reversed(rows)])

    def submit(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        lang, asset = self._lang(request), self._asset(ref)
        if asset is None:
            return self._not_found(lang)
        key = request.headers.get("idempotency-key")
        if key and key in self.submissions:  # the backend's idempotent replay
            return httpx.Response(200, json=self.submissions[key])
        readings = (body or {}).get("readings") or []
        if not readings or any(not isinstance(r.get("value"), int) or r["value"] < 0 for r in readings):
            return httpx.Response(422, json={"code": "validation_error", "message": "readings: invalid"})
        number = asset["asset_number"]
        meters = self.readings[number]
        for line in readings:  # everything is checked before anything is written
            if line["code"] not in meters:
                return httpx.Response(422, json={"code": "unknown_meter", "message": f"no meter {line['code']}"})
            last = meters[line["code"]][-1] if meters[line["code"]] else None
            if last is not None and line["value"] < last[1]:
                fr, en = NAMES[line["code"]]
                message = (f"Le relevé {line['value']} du compteur {fr} est inférieur au dernier relevé enregistré : "
                           f"{last[1]} le {last[0][:10]} ({last[2]}).") if lang == "fr" else (
                           f"Reading {line['value']} for meter {en} is lower than the last recorded reading: "
                           f"{last[1]} on {last[0][:10]} ({last[2]}).")
                return httpx.Response(422, json={"code": "reading_lower_than_last", "message": message,
                                                 "meter": line["code"], "last_reading": last[1]})
            # the backend's confirmation of unusual rises (backend/services/meters.py), its "extra digit" case
            if last is not None and line["value"] - last[1] > 10_000 and line["value"] >= 10 * max(last[1], 1) \
                    and line.get("confirmed") is not True:
                return httpx.Response(422, json={"code": "reading_needs_confirmation", "meter": line["code"],
                                                 "message": f"Reading {line['value']}: confirm it"})
        now = "2026-11-28T10:00:00Z"
        for line in readings:
            meters[line["code"]].append((now, line["value"], "Portail"))
        self._submission_seq += 1
        answer = {"id": self._submission_seq, "asset_number": number, "readings": [
            {**{k: v for k, v in self._meter_out(number, line["code"], lang).items()
                if k in ("code", "name", "integration_id")},
             "value": line["value"], "read_at": now, "source": "Portail"} for line in readings]}
        if key:
            self.submissions[key] = answer
        return httpx.Response(201, json=answer)

    def query(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        lang, asset = self._lang(request), self._asset(ref)
        if asset is None:
            return self._not_found(lang)
        key = request.headers.get("idempotency-key")
        if key and key in self.queries:
            return httpx.Response(200, json=self.queries[key])
        number = asset["asset_number"]
        if body.get("code") not in self.readings[number]:
            return httpx.Response(422, json={"code": "unknown_meter", "message": f"no meter {body.get('code')}"})
        if len((body.get("description") or "").strip()) < 3:
            return httpx.Response(422, json={"code": "validation_error", "message": "description: too short"})
        self._case_seq += 1
        base, suffix = self.integration[number]
        case = {"number": f"CS{self._case_seq:07d}", "status": "new", "category": "meter_reading",
                "subcategory": "query", "asset": copy.deepcopy(asset), "channel": body.get("channel", "api"),
                "transcript": body.get("transcript", ""),
                "description": f"[{NAMES[body['code']][0]} — {number}-{base}-{body['code']}-{suffix}] "
                               f"{body['description'].strip()}"}
        if key:
            self.queries[key] = case
        return httpx.Response(201, json=case)


def install(portal: FakePortal) -> MeterBackend:
    meters = MeterBackend(portal)
    portal.route("GET", r"/assets/(?P<ref>[^/]+)/meters", meters.meters)
    portal.route("GET", r"/assets/(?P<ref>[^/]+)/meters/(?P<code>[^/]+)/history", meters.history)
    portal.route("POST", r"/assets/(?P<ref>[^/]+)/meter-readings", meters.submit)
    portal.route("POST", r"/assets/(?P<ref>[^/]+)/meter-readings/query", meters.query)
    return meters

"""The orders routes of the portal backend, faked for the action tests (mirrors backend/api/routes/orders.py,
the consumables / orders routes of backend/api/routes/assets.py, backend/services/orders.py and the demo data
of backend/seed.py): catalogue per device model, server-side pricing with contract coverage and limits,
eMaintenance refusal (409), orders (ORD + 7 digits, idempotent), order enquiries (a case), training requests
(TRN + 7 digits, idempotent, no past date), the last 5 orders of a device.

`install(portal)` adds the routes to a `FakePortal` and returns the `OrdersBackend` holding their state.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Dict, List, Optional

import httpx

from actions_fakes import FakePortal

ACCOUNT = {"name": "CANON UK LTD", "street": "4 Roundwood Avenue", "city": "Uxbridge", "postcode": "UB11 1AF",
           "country": "Royaume-Uni", "currency": "GBP"}
# asset number -> (covers consumables, contract number)
CONTRACTS = {"77996101": (True, "CTR-GB-0045812"), "53463252": (False, "CTR-GB-0045813"),
             "80145861": (True, "CTR-GB-0051190")}
# backend/seed.py CATALOGUE: (part, description, category, price in pence, max quantity, contract coverable)
CATALOGUE = {
    "Canon iR-ADV C5030i": [
        ("2790B002", "C-EXV29 Toner Black", "Toner", 8950, 4, True),
        ("2794B002", "C-EXV29 Toner Cyan", "Toner", 14500, 4, True),
        ("2798B002", "C-EXV29 Toner Magenta", "Toner", 14500, 4, True),
        ("2802B002", "C-EXV29 Toner Yellow", "Toner", 14500, 4, True),
        ("2778B003", "C-EXV29 Drum Unit Black", "Drum", 24900, 2, True),
        ("2779B003", "C-EXV29 Drum Unit Colour", "Drum", 29900, 2, True),
        ("FM3-5945-010", "Waste Toner Container", "Waste toner", 2450, 3, True),
        ("0250A013", "Cartridge-D3-NONE-", "Staples", 6200, 5, False),
    ],
    "Canon iR-ADV C5560i": [
        ("0481C002", "C-EXV51 Toner Black", "Toner", 9950, 4, True),
        ("0482C002", "C-EXV51 Toner Cyan", "Toner", 15900, 4, True),
        ("0483C002", "C-EXV51 Toner Magenta", "Toner", 15900, 4, True),
        ("0484C002", "C-EXV51 Toner Yellow", "Toner", 15900, 4, True),
        ("0488C002", "C-EXV51 Drum Unit", "Drum", 27900, 2, True),
        ("FM1-A606-020", "WT-202 Waste Toner Container", "Waste toner", 2650, 3, True),
        ("1725B001", "Staple Cartridge-X1", "Staples", 5400, 5, False),
    ],
}
# backend/seed.py order history: (number, asset, day, lines)
SEED_ORDERS = [
    ("ORD0001228", "53463252", "2026-05-04", [("2790B002", 2)]),
    ("ORD0001229", "53463252", "2026-06-15", [("2794B002", 1), ("2798B002", 1)]),
    ("ORD0001230", "77996101", "2026-07-20", [("0481C002", 2), ("1725B001", 1)]),
    ("ORD0001231", "53463252", "2026-08-11", [("0250A013", 1)]),
    ("ORD0001233", "53463252", "2026-10-22", [("2790B002", 1), ("FM3-5945-010", 1)]),
    ("ORD0001227", "53463252", "2026-03-02", [("2802B002", 1)]),
]
EMAINTENANCE_MESSAGES = {
    "fr": "L'appareil {n} est sous eMaintenance : ses consommables sont envoyés automatiquement et ne se commandent "
          "pas sur le portail.",
    "en": "Device {n} is under eMaintenance: its consumables are sent automatically and are not ordered on the "
          "portal.",
}


def money(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))  # pydantic 2 serialises Decimal as a string


def error(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, **extra})


def lang_of(request: httpx.Request) -> str:
    return "en" if request.headers.get("accept-language", "fr").startswith("en") else "fr"


class OrdersBackend:
    def __init__(self, portal: FakePortal) -> None:
        self.portal = portal
        self.orders: Dict[str, Dict[str, Any]] = {}
        self.by_key: Dict[str, Dict[str, Any]] = {}
        self.enquiries_by_key: Dict[str, Dict[str, Any]] = {}
        self.trainings_by_key: Dict[str, Dict[str, Any]] = {}
        self.next_order, self.next_case, self.next_training = 1234, 32600, 102
        # backend/seed.py's training request (on the C5560i of the 2nd floor)
        self.trainings: List[Dict[str, Any]] = [{
            "number": "TRN0000101", "status": "submitted", "topic": "Prise en main de l'imprimante iR-ADV C5560i",
            "asset_number": "77996101", "attendees": 4, "preferred_date": "2099-12-10",
            "description": "Formation pour l'équipe accueil.", "created_at": "2026-11-20T10:00:00Z"}]
        for number, asset, day, lines in SEED_ORDERS:
            self.orders[number] = self._order(number, self._asset(asset), lines, None, None, "delivered",
                                              f"{day}T09:00:00Z")

    # --- helpers --------------------------------------------------------------------------------------------------
    def _asset(self, reference: str) -> Optional[Dict[str, Any]]:
        ref = reference.lower()
        for asset in self.portal.assets:
            if ref in (asset["asset_number"].lower(), asset["serial"].lower(), (asset["alias"] or "").lower()):
                return asset
        return None

    def _catalogue(self, asset: Dict[str, Any]) -> List[Dict[str, Any]]:
        covers = CONTRACTS.get(asset["asset_number"], (False, None))[0]
        return [{"part_number": p, "description": d, "category": c, "unit_price": money(cents),
                 "currency": ACCOUNT["currency"], "max_quantity": limit, "covered_by_contract": covers and coverable,
                 "_cents": cents} for p, d, c, cents, limit, coverable in CATALOGUE.get(asset["model"], [])]

    def _refuse_emaintenance(self, asset: Dict[str, Any], request: httpx.Request) -> Optional[httpx.Response]:
        if asset.get("emaintenance"):
            return error(409, "emaintenance_asset",
                         EMAINTENANCE_MESSAGES[lang_of(request)].format(n=asset["asset_number"]))
        return None

    def _price(self, asset: Dict[str, Any], lines: List[Dict[str, Any]], request: httpx.Request):
        """(priced lines, total cents) or an error response, as backend/services/orders.py price_lines."""
        refused = self._refuse_emaintenance(asset, request)
        if refused:
            return refused
        if not 1 <= len(lines) <= 20 or any(not 1 <= int(li.get("quantity", 0)) <= 1000 for li in lines):
            return error(422, "validation_error", "lines: invalid")
        by_part = {c["part_number"].upper(): c for c in self._catalogue(asset)}
        seen, priced = set(), []
        for index, line in enumerate(lines):
            part = line["part_number"].strip().upper()
            item = by_part.get(part)
            if item is None:
                return error(422, "unknown_consumable", f"Consumable {line['part_number']} is not available for "
                                                        f"{asset['model']}.", field=f"lines.{index}.part_number")
            if part in seen:
                return error(422, "duplicate_line", f"Consumable {item['part_number']} is on more than one line.")
            seen.add(part)
            if line["quantity"] > item["max_quantity"]:
                return error(422, "quantity_above_limit", f"Maximum quantity for {item['part_number']} "
                                                          f"({item['description']}): {item['max_quantity']}.")
            total = 0 if item["covered_by_contract"] else item["_cents"] * line["quantity"]
            priced.append((item, line["quantity"], total))
        return priced, sum(p[2] for p in priced)

    @staticmethod
    def _line_out(item: Dict[str, Any], quantity: int, total: int) -> Dict[str, Any]:
        return {"part_number": item["part_number"], "description": item["description"], "category": item["category"],
                "quantity": quantity, "unit_price": item["unit_price"],
                "covered_by_contract": item["covered_by_contract"], "line_total": money(total)}

    def _order(self, number: str, asset: Dict[str, Any], lines, contact, ship, status: str,
               created_at: str) -> Dict[str, Any]:
        by_part = {c["part_number"]: c for c in self._catalogue(asset)}
        out, total = [], 0
        for part, quantity in lines:
            item = by_part[part]
            line_total = 0 if item["covered_by_contract"] else item["_cents"] * quantity
            total += line_total
            out.append(self._line_out(item, quantity, line_total))
        ship = ship or {"recipient": ACCOUNT["name"], **{k: ACCOUNT[k] for k in ("street", "city", "postcode",
                                                                                  "country")}}
        contact = contact or {"full_name": "SNTestDM DemoPortal", "email": "sntestdm@canon-uk-demo.example"}
        return {"number": number, "status": status, "asset_number": asset["asset_number"],
                "asset_model": asset["model"], "contact_name": contact["full_name"],
                "contact_email": contact.get("email") or "", "shipping_address": ship,
                "currency": ACCOUNT["currency"], "lines": out, "total": money(total), "created_at": created_at}

    # --- routes ---------------------------------------------------------------------------------------------------
    def asset_detail(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        asset = self._asset(ref)
        if asset is None:
            return error(404, "not_found", f"Asset {ref} not found.")
        covers, contract = CONTRACTS.get(asset["asset_number"], (False, None))
        return httpx.Response(200, json={
            **asset, "account_name": ACCOUNT["name"],
            "address": {**{k: ACCOUNT[k] for k in ("street", "city", "postcode", "country")},
                        "location": asset["location"]},
            "contract": {"number": contract, "end_date": "2028-03-31", "covers_consumables": covers,
                         "covers_service": True},
        })

    def consumables(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        asset = self._asset(ref)
        if asset is None:
            return error(404, "not_found", f"Asset {ref} not found.")
        refused = self._refuse_emaintenance(asset, request)
        if refused:
            return refused
        return httpx.Response(200, json=[{k: v for k, v in c.items() if k != "_cents"}
                                         for c in self._catalogue(asset)])

    def asset_orders(self, request: httpx.Request, body: Any, ref: str) -> httpx.Response:
        asset = self._asset(ref)
        if asset is None:
            return error(404, "not_found", f"Asset {ref} not found.")
        refused = self._refuse_emaintenance(asset, request)
        if refused:
            return refused
        mine = [o for o in self.orders.values() if o["asset_number"] == asset["asset_number"]]
        mine.sort(key=lambda o: o["created_at"], reverse=True)
        return httpx.Response(200, json=mine[:5])

    def price(self, request: httpx.Request, body: Any) -> httpx.Response:
        asset = self._asset(body["asset"])
        if asset is None:
            return error(404, "not_found", f"Asset {body['asset']} not found.")
        result = self._price(asset, body["lines"], request)
        if isinstance(result, httpx.Response):
            return result
        priced, total = result
        return httpx.Response(200, json={"asset_number": asset["asset_number"], "currency": ACCOUNT["currency"],
                                         "lines": [self._line_out(i, q, t) for i, q, t in priced],
                                         "total": money(total)})

    def create_order(self, request: httpx.Request, body: Any) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key and key in self.by_key:  # the backend's idempotent replay
            return httpx.Response(200, json=self.by_key[key])
        allowed = {"asset", "lines", "contact", "shipping_address"}
        if set(body) - allowed:  # extra="forbid"
            return error(422, "validation_error", f"unexpected fields: {sorted(set(body) - allowed)}")
        asset = self._asset(body["asset"])
        if asset is None:
            return error(404, "not_found", f"Asset {body['asset']} not found.")
        result = self._price(asset, body["lines"], request)
        if isinstance(result, httpx.Response):
            return result
        number = f"ORD{self.next_order:07d}"
        self.next_order += 1
        order = self._order(number, asset, [(li["part_number"], li["quantity"]) for li in body["lines"]],
                            body.get("contact"), body.get("shipping_address"), "submitted", "2026-11-28T10:00:00Z")
        self.orders[number] = order
        if key:
            self.by_key[key] = order
        return httpx.Response(201, json=order)

    def get_order(self, request: httpx.Request, body: Any, number: str) -> httpx.Response:
        number = number.strip().upper()
        if not re.fullmatch(r"ORD\d{7}", number):
            return error(422, "invalid_order_number", f"'{number}' is not a valid order number.")
        order = self.orders.get(number)
        if order is None:
            return error(404, "not_found", f"Order {number} not found.")
        return httpx.Response(200, json=order)

    def enquiry(self, request: httpx.Request, body: Any) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key and key in self.enquiries_by_key:
            return httpx.Response(200, json=self.enquiries_by_key[key])
        if body.get("subcategory") not in ("wrong_items", "missing_items") or len(body.get("description", "")) < 3:
            return error(422, "validation_error", "invalid enquiry")
        order = self.orders.get(str(body.get("order_number", "")).upper())
        if order is None:
            return error(404, "not_found", f"Order {body.get('order_number')} not found.")
        self.next_case += 1
        case = {"number": f"CS{self.next_case:07d}", "status": "new", "category": "order_enquiry",
                "subcategory": body["subcategory"], "description": f"[{order['number']}] {body['description']}",
                "asset_number": order["asset_number"]}
        if key:
            self.enquiries_by_key[key] = case
        return httpx.Response(201, json=case)

    def training(self, request: httpx.Request, body: Any) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key and key in self.trainings_by_key:
            return httpx.Response(200, json=self.trainings_by_key[key])
        allowed = {"topic", "asset", "attendees", "preferred_date", "description"}
        if set(body) - allowed or not 3 <= len(body.get("topic", "")) <= 200 \
                or not 1 <= int(body.get("attendees", 1)) <= 100:
            return error(422, "validation_error", "invalid training request")
        preferred = body.get("preferred_date")
        if preferred and date.fromisoformat(preferred) < date.today():
            return error(422, "date_in_past", "The preferred date is in the past.")
        asset = self._asset(body["asset"]) if body.get("asset") else None
        if body.get("asset") and asset is None:
            return error(404, "not_found", f"Asset {body['asset']} not found.")
        row = {"number": f"TRN{self.next_training:07d}", "status": "submitted", "topic": body["topic"],
               "asset_number": asset["asset_number"] if asset else None, "attendees": body.get("attendees", 1),
               "preferred_date": preferred, "description": body.get("description", ""),
               "created_at": "2026-11-28T10:00:00Z"}
        self.next_training += 1
        self.trainings.insert(0, row)
        if key:
            self.trainings_by_key[key] = row
        return httpx.Response(201, json=row)

    def training_list(self, request: httpx.Request, body: Any) -> httpx.Response:
        return httpx.Response(200, json=self.trainings[: int(request.url.params.get("limit", 20))])


def install(portal: FakePortal) -> OrdersBackend:
    fake = OrdersBackend(portal)
    portal.route("GET", r"/assets/(?P<ref>[^/]+)", fake.asset_detail)
    portal.route("GET", r"/assets/(?P<ref>[^/]+)/consumables", fake.consumables)
    portal.route("GET", r"/assets/(?P<ref>[^/]+)/orders", fake.asset_orders)
    portal.route("POST", r"/orders/price", fake.price)
    portal.route("POST", r"/orders/enquiries", fake.enquiry)
    portal.route("POST", r"/orders", fake.create_order)
    portal.route("GET", r"/orders/(?P<number>[^/]+)", fake.get_order)
    portal.route("POST", r"/training-requests", fake.training)
    portal.route("GET", r"/training-requests", fake.training_list)
    return fake


__all__ = ["ACCOUNT", "CATALOGUE", "OrdersBackend", "install"]

"""Consumables orders ("Commandes"): catalogue per device model, server-side pricing, ordering, history,
and training requests."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.core.errors import ApiError, not_found
from backend.models import Asset, AssetContact, Consumable, Order, OrderLine, Role, TrainingRequest, User
from backend.schemas import (
    ConsumableOut, OrderCreate, OrderLineIn, OrderLineOut, OrderOut, PriceOut, ShippingOut, TrainingRequestCreate,
    TrainingRequestOut,
)

ORDER_NUMBER = re.compile(r"^ORD\d{7}$")
FIRST_ORDER_NUMBER = 1234
FIRST_TRAINING_NUMBER = 101
HISTORY_SIZE = 5


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def refuse_emaintenance(asset: Asset) -> None:
    """Seed: consumables ordering and order history are for customers not under eMaintenance."""
    if asset.emaintenance:
        raise ApiError(
            409, "emaintenance_asset",
            f"L'appareil {asset.asset_number} est sous eMaintenance : ses consommables sont envoyés automatiquement "
            "et ne se commandent pas sur le portail.",
            f"Device {asset.asset_number} is under eMaintenance: its consumables are sent automatically and are not "
            "ordered on the portal.",
        )


def catalogue(session: Session, asset: Asset) -> list[Consumable]:
    return list(session.scalars(select(Consumable).where(Consumable.device_model == asset.model)
                                .order_by(Consumable.category, Consumable.part_number)))


def covered(asset: Asset, consumable: Consumable) -> bool:
    return asset.covers_consumables and consumable.contract_coverable


def consumable_out(asset: Asset, item: Consumable) -> ConsumableOut:
    return ConsumableOut(part_number=item.part_number, description=item.description, category=item.category,
                         unit_price=_money(item.unit_price_cents), currency=asset.account.currency,
                         max_quantity=item.max_quantity, covered_by_contract=covered(asset, item))


def price_lines(session: Session, asset: Asset, lines: list[OrderLineIn]) -> tuple[list[tuple[Consumable, int, bool, int]], int]:
    """Check every line against the asset's catalogue and limits; returns (lines, total in cents)."""
    refuse_emaintenance(asset)
    by_part = {c.part_number.upper(): c for c in catalogue(session, asset)}
    seen: set[str] = set()
    priced = []
    for index, line in enumerate(lines):
        part = line.part_number.strip().upper()
        item = by_part.get(part)
        if item is None:
            raise ApiError(422, "unknown_consumable",
                           f"Le consommable {line.part_number} n'existe pas pour {asset.model}.",
                           f"Consumable {line.part_number} is not available for {asset.model}.",
                           field=f"lines.{index}.part_number")
        if part in seen:
            raise ApiError(422, "duplicate_line", f"Le consommable {item.part_number} est sur plusieurs lignes.",
                           f"Consumable {item.part_number} is on more than one line.",
                           field=f"lines.{index}.part_number")
        seen.add(part)
        if line.quantity > item.max_quantity:
            raise ApiError(422, "quantity_above_limit",
                           f"Quantité maximale pour {item.part_number} ({item.description}) : {item.max_quantity}.",
                           f"Maximum quantity for {item.part_number} ({item.description}): {item.max_quantity}.",
                           field=f"lines.{index}.quantity", max_quantity=item.max_quantity)
        is_covered = covered(asset, item)
        priced.append((item, line.quantity, is_covered, 0 if is_covered else item.unit_price_cents * line.quantity))
    return priced, sum(p[3] for p in priced)


def _line_out(item_part, description, category, quantity, unit_cents, is_covered, total_cents) -> OrderLineOut:
    return OrderLineOut(part_number=item_part, description=description, category=category, quantity=quantity,
                        unit_price=_money(unit_cents), covered_by_contract=is_covered, line_total=_money(total_cents))


def price(session: Session, asset: Asset, lines: list[OrderLineIn]) -> PriceOut:
    priced, total = price_lines(session, asset, lines)
    return PriceOut(asset_number=asset.asset_number, currency=asset.account.currency, total=_money(total),
                    lines=[_line_out(i.part_number, i.description, i.category, q, i.unit_price_cents, c, t)
                           for i, q, c, t in priced])


def _next_number(session: Session, column, prefix: str, first: int) -> str:
    last = session.scalar(select(func.max(column)))
    value = int(last[len(prefix):]) + 1 if last else first
    return f"{prefix}{value:07d}"


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        number=order.number, status=order.status, asset_number=order.asset.asset_number, asset_model=order.asset.model,
        contact_name=order.contact_name, contact_email=order.contact_email,
        shipping_address=ShippingOut(recipient=order.ship_recipient, street=order.ship_street, city=order.ship_city,
                                     postcode=order.ship_postcode, country=order.ship_country),
        currency=order.currency, total=_money(order.total_cents), created_at=order.created_at,
        lines=[_line_out(li.part_number, li.description, li.category, li.quantity, li.unit_price_cents, li.covered,
                         li.line_total_cents) for li in order.lines],
    )


def create_order(session: Session, user: User, asset: Asset, data: OrderCreate) -> OrderOut:
    priced, total = price_lines(session, asset, data.lines)
    account = asset.account
    contact = data.contact
    ship = data.shipping_address
    order = Order(
        number=_next_number(session, Order.number, "ORD", FIRST_ORDER_NUMBER), account_id=asset.account_id,
        asset_id=asset.id, created_by_id=user.id,
        contact_name=contact.full_name.strip() if contact else user.full_name,
        contact_email=(contact.email or "") if contact else user.email,
        contact_phone=contact.phone.strip() if contact else user.phone,
        ship_recipient=ship.recipient.strip() if ship else account.name,
        ship_street=ship.street.strip() if ship else account.street,
        ship_city=ship.city.strip() if ship else account.city,
        ship_postcode=ship.postcode.strip() if ship else account.postcode,
        ship_country=ship.country.strip() if ship else account.country,
        currency=account.currency, total_cents=total,
    )
    for item, quantity, is_covered, line_total in priced:
        order.lines.append(OrderLine(consumable_id=item.id, part_number=item.part_number, description=item.description,
                                     category=item.category, quantity=quantity, unit_price_cents=item.unit_price_cents,
                                     covered=is_covered, line_total_cents=line_total))
    session.add(order)
    session.flush()
    session.refresh(order)
    return order_out(order)


def visible_orders_query(user: User):
    query = select(Order).where(Order.account_id == user.account_id)
    if user.role != Role.admin:
        my_assets = select(AssetContact.asset_id).where(AssetContact.user_id == user.id)
        query = query.where(or_(Order.created_by_id == user.id, Order.asset_id.in_(my_assets)))
    return query


def get_visible_order(session: Session, user: User, number: str) -> Order:
    number = number.strip().upper()
    if not ORDER_NUMBER.match(number):
        raise ApiError(422, "invalid_order_number",
                       f"« {number} » n'est pas un numéro de commande valide (ORD suivi de 7 chiffres, ex. ORD0001234).",
                       f"'{number}' is not a valid order number (ORD followed by 7 digits, e.g. ORD0001234).",
                       field="order_number")
    order = session.scalars(visible_orders_query(user).where(Order.number == number)).first()
    if order is None:
        raise not_found(f"Commande {number}", f"Order {number}")
    return order


def last_orders(session: Session, user: User, asset: Asset) -> list[Order]:
    refuse_emaintenance(asset)
    return list(session.scalars(visible_orders_query(user).where(Order.asset_id == asset.id)
                                .order_by(Order.created_at.desc(), Order.id.desc()).limit(HISTORY_SIZE)))


def training_out(row: TrainingRequest) -> TrainingRequestOut:
    return TrainingRequestOut(number=row.number, status=row.status, topic=row.topic,
                              asset_number=row.asset.asset_number if row.asset else None, attendees=row.attendees,
                              preferred_date=row.preferred_date, description=row.description,
                              created_at=row.created_at)


def list_training_requests(session: Session, user: User, limit: int = 20) -> list[TrainingRequestOut]:
    """The training requests the user may see, newest first: an administrator those of the account, a user theirs
    and those on the devices they are a contact of (as orders)."""
    query = select(TrainingRequest).where(TrainingRequest.account_id == user.account_id)
    if user.role != Role.admin:
        my_assets = select(AssetContact.asset_id).where(AssetContact.user_id == user.id)
        query = query.where(or_(TrainingRequest.requested_by_id == user.id, TrainingRequest.asset_id.in_(my_assets)))
    rows = session.scalars(query.order_by(TrainingRequest.created_at.desc(), TrainingRequest.id.desc()).limit(limit))
    return [training_out(row) for row in rows]


def create_training_request(session: Session, user: User, asset: Asset | None,
                            data: TrainingRequestCreate) -> TrainingRequestOut:
    if data.preferred_date is not None and data.preferred_date < date.today():
        raise ApiError(422, "date_in_past", "La date souhaitée est déjà passée.", "The preferred date is in the past.",
                       field="preferred_date")
    row = TrainingRequest(number=_next_number(session, TrainingRequest.number, "TRN", FIRST_TRAINING_NUMBER),
                          account_id=user.account_id, requested_by_id=user.id, asset_id=asset.id if asset else None,
                          topic=data.topic.strip(), attendees=data.attendees, preferred_date=data.preferred_date,
                          description=data.description.strip())
    session.add(row)
    session.flush()
    session.refresh(row)
    return training_out(row)

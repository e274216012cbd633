"""Fixed value pools the synthetic rows draw from (teams, tags, people, subjects, SLAs).

The tables are built once and shared: callers must not mutate what they return.
"""

from __future__ import annotations

from functools import cache
from typing import Any

TEAMS: tuple[tuple[str, str], ...] = (
    ("team_support", "Podpora Ljubljana – Žiri"),  # noqa: RUF001
    ("team_sales", "Ventes Montréal"),
    ("team_billing", "Billing & Accounts"),
    ("team_partners", "Partner Success 東京"),
)

TAGS: tuple[tuple[str, str], ...] = (
    ("tag_urgent", "Urgent"),
    ("tag_vip", "VIP"),
    ("tag_bug", "Bug report"),
    ("tag_feature", "Feature request"),
    ("tag_refund", "Refund / Rückerstattung"),
    ("tag_followup", "Follow-up ✅"),
)

TEAMMATES: tuple[tuple[str, str], ...] = (
    ("ana.novak@loop-demo.example", "Ana Novak"),
    ("luka.kovacic@loop-demo.example", "Luka Kovačič"),
    ("emilie.tremblay@loop-demo.example", "Émilie Tremblay"),
    ("juergen.gross@loop-demo.example", "Jürgen Groß"),
    ("sofia.rossi@loop-demo.example", "Sofia Rossi"),
    ("mateo.garcia@loop-demo.example", "Mateo García"),
    ("yuki.tanaka@loop-demo.example", "Yuki Tanaka"),
    ("priya.nair@loop-demo.example", "Priya Nair"),
)

CUSTOMERS: tuple[str, ...] = (
    "jana@stranka.si",
    "marko@stranka.si",
    "pierre@client-montreal.ca",
    "chloe@client-montreal.ca",
    "ops@acme.example",
    "billing@acme.example",
    "ceo@globex.example",
    "it@globex.example",
    "hans@kunde.de",
    "greta@kunde.de",
    "li.wei@partner.cn",
    "sato@shop.jp",
    "maria@tienda.es",
    "joao@loja.com.br",
    "support@initech.example",
    "peter@initech.example",
    "anna@firma.pl",
    "olga@company.ru",
    "noreply@newsletter.example",
    "zoe@startup.io",
)

SUBJECTS: tuple[str, ...] = (
    "Order status",
    "Naročilo št. 4821 – vprašanje",  # noqa: RUF001
    "Problème de connexion",
    "Rückfrage zur Rechnung",
    "Quick question 🙂",
    "Partnership proposal",
    "Re: Demo follow-up",
    "Refund request",
    "Password reset not working",
    "Ça ne marche pas 😤",
    "Upgrade to annual plan",
    "Bug: export stuck in Processing",
    "Meeting next week?",
    "Zahtevek za vračilo",
    "Shipping to Žiri",
    "🎉 Thanks for the quick help!",
)

SLA_POLICIES: tuple[str | None, ...] = ("Standard", "Priority", "Enterprise", None)


@cache
def assignee_table() -> list[dict[str, str] | None]:
    """16 slots: every teammate once, six of them twice, and two unassigned."""
    people = [{"email": e, "name": n} for e, n in TEAMMATES]
    return [*people, *people[:6], None, None]


@cache
def customer_table() -> list[dict[str, str]]:
    """32 slots over the 20 customers (the first twelve are a bit more frequent)."""
    objs = [{"email": e, "domain": e.split("@", 1)[1]} for e in CUSTOMERS]
    return [objs[i % len(objs)] for i in range(32)]


@cache
def tag_table() -> list[list[dict[str, str]]]:
    """4096 slots: 2 hash bits per tag, a tag is present when both bits are set (p=1/4)."""
    objs = [{"id": i, "name": n} for i, n in TAGS]
    by_mask: dict[int, list[dict[str, str]]] = {}
    table = []
    for bits in range(4096):
        mask = 0
        for j in range(len(TAGS)):
            if (bits >> (2 * j)) & 3 == 3:
                mask |= 1 << j
        if mask not in by_mask:
            by_mask[mask] = [objs[j] for j in range(len(TAGS)) if mask >> j & 1]
        table.append(by_mask[mask])
    return table


@cache
def sla_table() -> list[dict[str, Any]]:
    """16 SLA objects (a nested object inside, some values null)."""
    table = []
    for i in range(16):
        policy = SLA_POLICIES[i % 4]
        table.append(
            {
                "policy": policy,
                "breached": i % 5 == 0,
                "targets": {
                    "firstResponseMinutes": None if policy is None else (30, 60, 240)[i % 3],
                    "resolutionHours": None if i % 3 == 2 else (8, 24, 72)[i % 3],
                    "businessHoursOnly": i % 2 == 0,
                },
            }
        )
    return table


ATTACHMENTS: tuple[int, ...] = (0, 0, 0, 0, 0, 1, 2, 3)

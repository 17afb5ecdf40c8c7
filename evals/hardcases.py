"""Hard cases for plain-text boilerplate removal, modelled on the failures of issue 15.

Every line of boilerplate and every list-like story here is written for this evaluation (no corpus
text); the ordinary stories are paragraphs of the benchmark's gold bodies, read by path at run time.
Kinds of case:
- list-like stories whose short lines repeat inside the story (meal plans, schedules, Q&A
  headings, match reports): those lines are content;
- syndicated copies: a site's story, with that site's boilerplate, saved in another folder;
- edited copies of one story carrying the same editor's note: part of each article;
- ordinary site stories with per-site boilerplate (top, middle, bottom; varied per article).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    """One generated file: its path, the story's paragraphs (what must stay), the boilerplate lines (what must go)."""

    path: Path
    story: tuple[str, ...]
    boilerplate: tuple[str, ...]


@dataclass(frozen=True)
class SyntheticSite:
    """A made-up site: its boilerplate blocks and how they are placed around each story."""

    name: str
    top: Callable[[random.Random], list[str]]
    middle: Callable[[random.Random], list[str]]
    bottom: Callable[[random.Random], list[str]]


HEADLINES = (
    "Council approves new cycle lanes for the harbour district",
    "Local bakery wins regional award for sourdough",
    "Storm warning issued for the weekend as winds pick up",
    "School board delays vote on four-day week",
    "Ferry timetable changes from next month",
    "Five walks to try before the autumn rain",
    "Hospital car park fees to rise in spring",
    "Why the old cinema is finally reopening",
    "Rail works close the northern line for ten days",
    "Rugby club celebrates a century on the same pitch",
    "Water bills set to climb by eight percent",
    "Police appeal for witnesses after warehouse fire",
    "New library hours announced for the summer",
    "The market traders who refuse to go cashless",
    "Airport expansion plan faces fresh objections",
    "Museum returns carved panels to island community",
    "Lifeboat crew rescues two kayakers off the point",
    "Housing estate plan cut back after residents object",
    "Bus drivers vote to accept pay offer",
    "Mayor sets out budget priorities for next year",
)


def _beacon_top(rng: random.Random) -> list[str]:
    return ["Share", "Save article"] if rng.random() < 0.8 else []


def _beacon_middle(rng: random.Random) -> list[str]:
    return (
        ["The Beacon Briefing: our editors' picks, every weekday morning. Enter your email to get it free."]
        if rng.random() < 0.7
        else []
    )


def _beacon_bottom(rng: random.Random) -> list[str]:
    return [
        "Journalism like this takes time and money. Readers like you keep the Northern Beacon going.",
        "Become a Beacon supporter from just $3 a month",
        f"© {rng.choice((2022, 2023, 2024))} Northern Beacon Publishing",
    ]


def _tribune_top(rng: random.Random) -> list[str]:
    return ["Listen to this story", f"{rng.randint(2, 9)} minute read"]


def _tribune_middle(rng: random.Random) -> list[str]:
    return ["Continue reading below", "Recommended", *rng.sample(HEADLINES, 3)]


def _tribune_bottom(rng: random.Random) -> list[str]:
    return [
        "Get the Lakeside Tribune's Daily Edition by email and never miss our top stories",
        "Simply pop your email into the box and we'll do the rest.",
        f"Filed under: {', '.join(rng.sample(('politics', 'schools', 'health', 'sport', 'arts', 'transport'), 2))}",
    ]


def _courier_top(rng: random.Random) -> list[str]:
    return ["Advertisement"] + (["Photo: Courier staff"] if rng.random() < 0.5 else [])


def _courier_middle(rng: random.Random) -> list[str]:
    slot = ["Brightmart logo", "Weekly deals on fresh produce at Brightmart", "Shop now"]
    return slot * (2 if rng.random() < 0.5 else 1)


def _courier_bottom(rng: random.Random) -> list[str]:
    return [
        "Follow the Valley Courier on Facebook and X for updates as they happen.",
        "Have a story we should cover? Send your tips to the newsroom.",
        f"Copyright {rng.choice((2023, 2024))} Valley Courier",
    ]


SITES = (
    SyntheticSite("northern-beacon", _beacon_top, _beacon_middle, _beacon_bottom),
    SyntheticSite("lakeside-tribune", _tribune_top, _tribune_middle, _tribune_bottom),
    SyntheticSite("valley-courier", _courier_top, _courier_middle, _courier_bottom),
)

# --- list-like stories: short lines that repeat inside one story are its content ---------------

FOODS = (
    "two eggs on rye toast",
    "a bowl of oats with berries",
    "grilled chicken with rice",
    "lentil soup and bread",
    "a handful of almonds",
    "salmon with potatoes",
    "greek yoghurt with honey",
    "a tuna salad wrap",
    "vegetable stir-fry with tofu",
    "an apple and peanut butter",
    "bean chilli with brown rice",
)
MEALS = ("Breakfast", "Mid-morning snack", "Lunch", "Afternoon snack", "Dinner", "Evening snack")


def meal_plan(rng: random.Random) -> list[str]:
    reminder = rng.choice(("Eat every 2–3 hours", "Drink a glass of water first", "Keep portions palm-sized"))
    lines = [
        f"A dietitian's {rng.choice(('five', 'seven'))}-day plan for people training for a first half marathon "
        "starts with regular meals rather than big ones, she said, and sets out what to eat at each."
    ]
    for day in range(1, rng.randint(3, 4) + 1):
        lines.append(f"Day {day}")
        for meal in rng.sample(MEALS, 4):
            lines += [meal, rng.choice(FOODS).capitalize(), reminder]
    lines.append("She recommends checking with a doctor before changing your diet, especially if you take medication.")
    return lines


def schedule(rng: random.Random) -> list[str]:
    venue = rng.choice(("Main stage", "Riverside tent", "Town square"))
    lines = [
        f"The festival returns this summer with three days of music, food and talks. Here is the full "
        f"programme for the {venue.lower()}, as published by the organisers on {rng.choice(('Monday', 'Friday'))}."
    ]
    acts = (
        "The Tidewaters",
        "Lena Ocampo",
        "Brass Foundry",
        "Mill Lane Choir",
        "DJ Harbourlight",
        "The Quiet Hours",
        "Sefton Youth Band",
        "Ana Ruiz Trio",
        "North Pier Ceilidh",
        "Open mic",
    )
    for day in ("Friday", "Saturday", "Sunday"):
        lines.append(day)
        lines.append("Gates open 10am")
        for act in rng.sample(acts, 3):
            lines += [f"{rng.randint(11, 21)}:{rng.choice(('00', '30'))} {act}", venue]
        lines.append("Last entry 9pm")
    lines.append("Tickets are sold at the gate only; children under twelve go free with a paying adult.")
    return lines


QUESTIONS = (
    "When does the new charge start?",
    "Who has to pay?",
    "How much will it cost?",
    "Are there exemptions?",
    "How do I pay?",
    "What happens if I don't pay?",
    "Will the money go back into transport?",
)


def q_and_a(rng: random.Random) -> list[str]:
    lines = [
        "The city's new congestion charge has prompted thousands of questions from readers. We put the most common "
        "ones to the transport department."
    ]
    for question in rng.sample(QUESTIONS, 5):
        lines += [
            "Question",
            question,
            "What the council says",
            "The department said the answer depends on "
            f"{rng.choice(('the vehicle', 'the postcode', 'the time of day'))}, "
            f"and that details would be published {rng.choice(('online', 'in letters to residents'))}.",
            "Our view",
            rng.choice(("Clear enough.", "Still vague.", "Needs work.")),
        ]
    return lines


def match_report(rng: random.Random) -> list[str]:
    home, away = rng.sample(("Harbour Town", "Millbrook Rovers", "St Anne's", "Eastfield United", "Kirkby Athletic"), 2)
    lines = [
        f"{home} beat {away} in a tense derby on {rng.choice(('Saturday', 'Sunday'))}, with the decisive moment "
        "coming late in the second half."
    ]
    for minute in sorted(rng.sample(range(3, 90), 6)):
        lines += [
            f"{minute}'",
            rng.choice(("GOAL", "Yellow card", "Substitution", "Chance")),
            f"{rng.choice((home, away))} "
            f"{rng.choice(('press forward', 'break down the left', 'win a corner', 'hit the post'))}",
        ]
    lines += ["Full time", f"{home} {rng.randint(1, 3)}-{rng.randint(0, 1)} {away}"]
    return lines


LIST_STORIES = (meal_plan, schedule, q_and_a, match_report)
EDITOR_NOTES = (
    "Editor's note: This story has been updated to include comments from the harbour authority.",
    "This article was amended after publication to correct the date of the council meeting.",
    "Update: The council confirmed on Thursday that the vote will go ahead as planned.",
)


def _edited(story: list[str], rng: random.Random, version: int) -> list[str]:
    """A later version of a story: a few words changed here and there, a paragraph added."""
    edited = []
    for paragraph in story:
        words = paragraph.split()
        if len(words) > 8:
            words[rng.randrange(len(words))] = rng.choice(("also", "now", "later", "again", "still"))
        edited.append(" ".join(words))
    return edited + [
        f"This version adds reaction number {version} from residents who attended the meeting on the quay."
    ]


def _write(path: Path, title: str, blocks: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(title + "\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")


def _wrap(site: SyntheticSite, story: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    top, middle, bottom = site.top(rng), site.middle(rng), site.bottom(rng)
    cut = rng.randint(1, max(1, len(story) - 1))
    return [*top, *story[:cut], *middle, *story[cut:], *bottom], [*top, *middle, *bottom]


def build_cases(root: Path, bodies: list[list[str]], seed: int, stories_per_site: int = 16) -> list[Case]:
    """Write the hard-case folders under root from `bodies` (lists of paragraphs); return each file's truth."""
    rng = random.Random(seed)
    bodies = list(bodies)
    rng.shuffle(bodies)
    cases: list[Case] = []
    site_stories: dict[str, list[tuple[list[str], str]]] = {}
    used = 0
    for site in SITES:
        folder = root / site.name
        stories: list[list[str]] = [bodies[(used + i) % len(bodies)] for i in range(stories_per_site)]
        used += stories_per_site
        stories += [make(rng) for make in LIST_STORIES]
        for number, story in enumerate(stories):
            blocks, boilerplate = _wrap(site, story, rng)
            path = folder / f"{number:03d}.txt"
            _write(path, f"{site.name} story {number}", blocks)
            cases.append(Case(path, tuple(story), tuple(boilerplate)))
            site_stories.setdefault(site.name, []).append((story, site.name))
        # edited copies of one story, each with the same editor's note (part of the article)
        base = bodies[used % len(bodies)]
        used += 1
        note = rng.choice(EDITOR_NOTES)
        for version in range(1, 13):
            story = [*_edited(base, random.Random(seed * 10 + version), version), note] if version > 1 else list(base)
            blocks, boilerplate = _wrap(site, story, rng)
            path = folder / f"update-{version}.txt"
            _write(path, f"{site.name} developing story (version {version})", blocks)
            cases.append(Case(path, tuple(story), tuple(boilerplate)))
    # syndicated copies: a site's story with that site's boilerplate, saved in a mixed folder
    wire = root / "wire"
    for number in range(12):
        site = SITES[number % len(SITES)]
        story, _ = rng.choice(site_stories[site.name][:stories_per_site])
        if number % 2:
            story = story[:-1] if len(story) > 3 else story  # a trimmed copy: near, not exact
        blocks, boilerplate = _wrap(site, list(story), rng)
        path = wire / f"syndicated-{number:02d}.txt"
        _write(path, f"{site.name} story, syndicated", blocks)
        cases.append(Case(path, tuple(story), tuple(boilerplate)))
    for number in range(4):  # the wire's own stories, no site boilerplate
        story = bodies[(used + number) % len(bodies)]
        path = wire / f"own-{number:02d}.txt"
        _write(path, f"wire story {number}", story)
        cases.append(Case(path, tuple(story), ()))
    return cases

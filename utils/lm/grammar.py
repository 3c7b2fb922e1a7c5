"""The long-tail grammar: a corpus with about a thousand word types whose truth is exact.

Lesson 09's model reads *tokens* (`utils.tokenizer`), and its corpus comes
from this grammar. Like `utils.lm.corpus` it is a deterministic finite-state
machine (every state has a fixed distribution over the next unit, and the
unit chosen decides the next state), so the true probability of the next
word is a table lookup; unlike it, its lexicon has a Zipf-like long tail:
about 1,100 word types in open classes (animals, people, things, foods,
places, adjectives, verbs, adverbs, names) where the k-th most common word of
a class of n has a probability proportional to 1 / (k + 1). So next-word
distributions range from peaked (after ``" sat"``: a few prepositions) to
flat (after ``" the"``: hundreds of adjectives and nouns).

Sentences look like this (one sentence per line, each ends with ``.`` and
``<|endoftext|>``)::

    The cat sat on the mat.
    Alice saw a fluffy dog that chased the fox that liked Bob.
    Yesterday, my grandmother bought bread, honey, apples and cheese.
    The old lion was very sleepy and the sailor laughed loudly.

Rules (the tables are below):

* a sentence starts with a capitalized determiner, a name, or an opener
  (``Yesterday,``); a clause is a subject (determiner, optional adjectives,
  a noun; or a name) and a verb phrase;
* animals and people pick verbs from their own lists: intransitive (with an
  optional adverb), transitive (an object of the verb's kind: animate,
  thing or food), of place (a preposition and a place) or ``was`` (an
  adjective, optionally after ``very``, which can repeat);
* an animate object may take a relative clause, ``that`` and a new verb
  phrase (mostly one with an animate object), again and again: ``the cat
  that chased the dog that saw the cat ...``; a food object may start a
  list (``bread, milk, eggs and cheese``); a clause ends with ``.`` or goes
  on with ``and`` / ``but`` / ``so`` and a new clause.

So open-ended text loops: after an animate object the likeliest unit is
``" that"``, then ``" saw"``, ``" the"``, ``" cat"``, and greedy decoding
keeps choosing them (``was very very ...`` is another loop).

Units: the machine emits *units*, the strings that GPT-2's pre-tokenizer
cuts a text into (`utils.tokenizer.pre_tokenize`): a word with its leading
space (``" cat"``), a sentence's first word without one (``"The"``), the
punctuation marks ``","`` and ``"."``, and ``<|endoftext|>`` (`EOS`) after
the final ``"."``; after `EOS` a new sentence starts. A text is the
concatenation of its units, so each unit is tokenized on its own:
`utils.lm.token_truth` turns this machine into exact next-*token*
probabilities.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "EOS",
    "UNITS",
    "WORD_CLASSES",
    "sample_sentences",
    "sentence_log_prob",
    "states_after_units",
    "text_of_units",
    "true_next_unit_probs",
    "units_of_text",
]

EOS = "<|endoftext|>"


# --- the lexicon: each list from the most to the least common word -------------------------------
def _words(text: str) -> list[str]:
    return text.split()


NAMES = _words("""Alice Bob Emma Oliver Mia Noah Lucy Sam Leo Ava Max Ruby Jack Lily Tom Zoe Ben
Grace Finn Chloe Oscar Ella Hugo Nora Theo Isla Felix Rosa Arthur Maya Ivan Clara Omar Hannah
Victor Iris Diego Freya Kofi Amara Yusuf Ingrid Mateo Priya Dmitri Beatrix Thaddeus Ottoline
Bartholomew Wilhelmina""")
ANIMALS = _words("""cat dog bird mouse rabbit fox duck hen horse cow pig sheep goat owl frog
bear wolf deer lion tiger monkey snake turtle squirrel hamster parrot pony donkey goose swan
crow robin sparrow eagle hawk bat beaver otter badger hedgehog mole rat camel zebra giraffe
elephant hippo rhino kangaroo koala panda penguin seal whale dolphin shark octopus crab lobster
snail worm beetle spider ant bee butterfly moth wasp ladybird lizard crocodile alligator
chameleon gecko iguana tortoise toad newt salamander ferret weasel stoat mink raccoon skunk
porcupine armadillo opossum lemur gorilla chimpanzee orangutan baboon gibbon sloth anteater
aardvark meerkat mongoose hyena jackal coyote lynx leopard cheetah jaguar panther cougar buffalo
bison yak llama alpaca antelope gazelle moose elk reindeer walrus pelican flamingo heron stork
crane ostrich emu peacock pheasant partridge quail pigeon dove magpie raven starling wren finch
canary budgie cockatoo toucan hummingbird woodpecker kingfisher puffin albatross vulture condor
platypus wombat wallaby narwhal manatee axolotl pangolin tapir okapi capybara chinchilla marmot""")
PEOPLE = _words("""girl boy man woman farmer teacher baby child doctor nurse king queen prince
princess baker cook chef pilot sailor soldier driver artist singer dancer painter writer poet
student neighbour friend stranger grandmother grandfather mother father sister brother uncle
aunt cousin wizard witch knight giant clown captain pirate detective scientist engineer lawyer
judge mayor officer firefighter plumber carpenter gardener librarian shopkeeper waiter tailor
butcher fisherman shepherd hunter miner banker postman guard nanny toddler teenager professor
astronaut photographer musician drummer violinist pianist magician acrobat juggler architect
surgeon dentist pharmacist veterinarian electrician mechanic janitor cashier receptionist
accountant philosopher historian mathematician archaeologist ballerina lumberjack blacksmith
locksmith beekeeper""")
THINGS = _words("""ball bone book hat cup key bag toy kite pen pencil lamp clock bell coin ring
shoe sock coat scarf glove umbrella basket bucket bottle jar plate bowl spoon fork knife candle
rope stick stone shell feather leaf flower map letter card drum flute guitar violin trumpet
camera phone radio ticket wallet mirror comb brush towel blanket pillow quilt crayon marble
puzzle doll robot balloon whistle hammer ladder shovel rake broom bicycle wagon sled skateboard
helmet backpack notebook envelope parcel present trophy medal crown sword shield lantern compass
telescope microscope magnet battery button needle thread ribbon necklace bracelet brooch locket
spectacles binoculars kettle teapot saucepan ladle whisk colander thimble trowel wheelbarrow
harmonica tambourine xylophone accordion ukulele kaleidoscope hourglass abacus boomerang
pinwheel snowglobe sundial metronome""")
FOODS = _words("""cookie cake bread apple pear banana grape plum cherry peach lemon carrot
potato tomato onion pea bean corn rice soup pie cheese egg milk honey jam butter sandwich pizza
pasta noodle salad biscuit muffin pancake waffle toast cereal porridge yogurt candy chocolate
pudding doughnut bagel cracker pretzel popcorn peanut almond walnut hazelnut cashew pistachio
strawberry blueberry raspberry blackberry gooseberry cranberry melon watermelon pineapple mango
papaya kiwi apricot coconut fig avocado cucumber lettuce cabbage broccoli cauliflower spinach
celery radish turnip parsnip beetroot pumpkin squash courgette aubergine mushroom garlic ginger
olive sausage burger steak shrimp omelette custard jelly trifle scone crumpet croissant baguette
brioche dumpling lasagne risotto burrito taco falafel hummus sushi curry stew casserole quiche
meringue marzipan nougat toffee fudge caramel lollipop liquorice gingerbread flapjack strudel
tiramisu baklava gnocchi ravioli spaghetti""")
PLACES = _words("""mat sofa bed rug table chair wall tree car door house fence window garden
roof bench bridge hill river lake pond field forest meadow beach road path street park barn shed
kitchen stairs porch gate cave tent boat train bus shop school library market castle tower
church station harbour island mountain valley desert jungle swamp cliff waterfall village city
farm orchard vineyard greenhouse attic cellar basement garage balcony chimney hedge haystack
windmill lighthouse playground courtyard cottage palace museum theatre stadium hospital bakery
cafe restaurant hotel airport tunnel canal glacier volcano lagoon marsh prairie tundra savanna
canyon plateau fjord archipelago pavilion gazebo observatory conservatory monastery""")
ADJECTIVES = _words("""big small little old young black white brown red blue green yellow happy
sleepy lazy hungry tired angry tiny huge fat thin tall short long soft hard warm cold wet dry
clean dirty loud quiet quick slow brave shy clever silly kind cruel gentle wild tame friendly
grumpy fluffy furry shiny dusty rusty muddy sandy noisy sticky spotty stripy curly fuzzy wobbly
bumpy crunchy golden silver wooden purple pink grey pale dark bright strange curious famous
lonely proud gloomy cheerful jolly fierce mighty ancient modern elegant enormous gigantic
miniature magnificent mysterious mischievous adventurous ambitious cautious courageous
delightful ferocious glamorous gorgeous hilarious luminous marvellous nervous obedient peculiar
ridiculous splendid stubborn suspicious tremendous unusual vivacious whimsical zealous sparkling
shimmering glittering frightened astonished bewildered exhausted delicate fragile graceful
humble nimble sturdy feeble bashful boisterous cantankerous crotchety dapper dainty drowsy
fidgety gallant garrulous haughty impish jovial lanky meek nosy plucky quirky rowdy scruffy
sluggish spry stout surly timid unruly wary wiry zany""")
# Verbs, by what follows them.
INTRANSITIVE = _words("""slept ran sang flew danced jumped laughed cried smiled waited played
swam walked rested yawned sneezed giggled wandered shivered whistled hummed snored barked purred
growled howled chirped squeaked croaked hopped crawled wriggled trembled fainted blushed
grumbled stumbled tumbled vanished""")
TRANSITIVE_ANIMATE = _words("""saw chased liked followed helped watched loved hugged called met
visited pushed tickled scolded greeted thanked ignored rescued admired noticed""")
TRANSITIVE_THING = _words("""found took held carried dropped lost wanted needed kicked threw
painted drew fixed broke opened washed cleaned borrowed stole dragged grabbed shared polished
juggled balanced examined discovered inspected measured counted""")
TRANSITIVE_FOOD = _words("""ate bought cooked tasted baked sold smelled fed gobbled nibbled
devoured savoured""")
LOCATIVE = _words("""sat stood lay hid lived stayed landed perched napped lingered lurked
hovered""")
ADVERBS = _words("""soundly away home quickly loudly sweetly happily quietly slowly gently
softly badly well again together alone outside inside today carefully noisily proudly sadly
angrily eagerly lazily bravely shyly calmly wildly merrily cheerfully gracefully clumsily
patiently suddenly silently tirelessly reluctantly triumphantly mischievously enthusiastically
ferociously magnificently""")
PREPOSITIONS = _words("""on under near by behind in beside inside outside above below beneath""")
DETERMINERS = _words("""the a my this that every one our her his some their your""")
OPENERS = _words("""Yesterday Then Today Later Suddenly Meanwhile Finally Afterwards""")
# Verbs an animal does not do, and sounds only animals make.
ANIMAL_ONLY = {"barked", "purred", "growled", "howled", "chirped", "squeaked", "croaked"}
PERSON_ONLY = {
    "sang", "danced", "laughed", "cried", "smiled", "giggled", "whistled", "hummed", "fainted",
    "blushed", "grumbled", "painted", "drew", "fixed", "borrowed", "stole", "polished", "juggled",
    "examined", "inspected", "measured", "counted", "thanked", "scolded", "greeted", "cooked",
    "baked", "sold", "bought", "savoured", "read",
}  # fmt: skip

WORD_CLASSES = {
    "name": NAMES, "animal": ANIMALS, "person": PEOPLE, "thing": THINGS, "food": FOODS,
    "place": PLACES, "adjective": ADJECTIVES, "intransitive": INTRANSITIVE,
    "transitive_animate": TRANSITIVE_ANIMATE, "transitive_thing": TRANSITIVE_THING,
    "transitive_food": TRANSITIVE_FOOD, "locative": LOCATIVE, "adverb": ADVERBS,
    "preposition": PREPOSITIONS, "determiner": DETERMINERS, "opener": OPENERS,
}  # fmt: skip


def zipf(words, exponent: float = 1.0, offset: float = 1.0) -> dict[str, float]:
    """Probabilities proportional to 1 / (rank + offset) ** exponent, rank 1 first."""
    weights = np.array([1.0 / (rank + offset) ** exponent for rank in range(1, len(words) + 1)])
    weights /= weights.sum()
    return dict(zip(words, weights.tolist(), strict=True))


def _spaced(table: dict[str, float]) -> dict[str, float]:
    return {" " + word: probability for word, probability in table.items()}


def _scaled(table: dict[str, float], scale: float) -> dict[str, float]:
    return {unit: scale * probability for unit, probability in table.items()}


def _capitalized(word: str) -> str:
    return word[:1].upper() + word[1:]


# --- the machine ---------------------------------------------------------------------------------
START, END = "start", "end"


def _verbs_for(kind: str) -> dict[str, float]:
    """An animal's or a person's verb distribution: verb kinds mixed, Zipf inside each."""
    excluded = PERSON_ONLY if kind == "animal" else ANIMAL_ONLY
    shares = {
        "intransitive": (INTRANSITIVE, 0.30),
        "transitive_animate": (TRANSITIVE_ANIMATE, 0.25),
        "transitive_thing": (TRANSITIVE_THING, 0.12 if kind == "animal" else 0.16),
        "transitive_food": (TRANSITIVE_FOOD, 0.10),
        "locative": (LOCATIVE, 0.15 if kind == "animal" else 0.11),
        "was": (["was"], 0.08),
    }
    table: dict[str, float] = {}
    for words, share in shares.values():
        kept = [word for word in words if word not in excluded]
        table.update(_scaled(_spaced(zipf(kept)), share))
    return table


def _relative_verbs() -> dict[str, float]:
    """The verb of a relative clause (``that saw the cat``): mostly verbs of an animate object,
    so that ``that`` keeps coming back (and greedy decoding loops)."""
    shares = {
        "transitive_animate": (TRANSITIVE_ANIMATE, 0.60),
        "intransitive": (INTRANSITIVE, 0.20),
        "transitive_thing": (TRANSITIVE_THING, 0.10),
        "locative": (LOCATIVE, 0.10),
    }
    table: dict[str, float] = {}
    for words, share in shares.values():
        kept = [word for word in words if word not in ANIMAL_ONLY]
        table.update(_scaled(_spaced(zipf(kept)), share))
    return table


def _rules() -> dict[str, dict[str, tuple[float, str]]]:
    """state -> {unit: (probability, next state)}."""
    rules: dict[str, dict[str, tuple[float, str]]] = {}

    def add(state: str, table: dict[str, float], next_state, scale: float = 1.0) -> None:
        row = rules.setdefault(state, {})
        for unit, probability in table.items():
            target = next_state(unit) if callable(next_state) else next_state
            if unit in row and row[unit][1] != target:  # pragma: no cover - a table error
                raise AssertionError(f"{state}: {unit!r} leads to two states")
            row[unit] = (row.get(unit, (0.0, target))[0] + scale * probability, target)

    determiners = zipf(DETERMINERS, exponent=1.6, offset=0.3)
    names = zipf(NAMES)
    nouns = {"animal": zipf(ANIMALS), "person": zipf(PEOPLE)}

    # A sentence's first unit: no leading space, capitalized.
    add(START, {_capitalized(w): p for w, p in determiners.items()}, "subject_det", 0.60)
    add(START, names, "verb:person", 0.25)
    add(START, zipf(OPENERS), "opener", 0.15)
    add("opener", {",": 1.0}, "clause_start")
    # A clause inside a sentence.
    add("clause_start", _spaced(determiners), "subject_det", 0.75)
    add("clause_start", _spaced(names), "verb:person", 0.25)
    adjectives = _spaced(zipf(ADJECTIVES))
    for state in ("subject_det", "subject_adj"):
        add(state, adjectives, "subject_adj", 0.30 if state == "subject_det" else 0.12)
        rest = 0.70 if state == "subject_det" else 0.88
        add(state, _spaced(nouns["animal"]), "verb:animal", 0.55 * rest)
        add(state, _spaced(nouns["person"]), "verb:person", 0.45 * rest)
    for kind in ("animal", "person"):
        add(f"verb:{kind}", _verbs_for(kind), _verb_target)
    # Verb phrases.
    add("intransitive", _spaced(zipf(ADVERBS)), "clause_end", 0.55)
    add("intransitive", CLAUSE_END, _clause_target, 0.45)
    add("was", {" very": 0.15}, "was")
    add("was", adjectives, "clause_end", 0.85)
    for kind in ("animate", "thing", "food"):
        add(f"object_det:{kind}", adjectives, f"object_adj:{kind}", 0.20)
        add(f"object_adj:{kind}", adjectives, f"object_adj:{kind}", 0.10)
    animate = {**_spaced(nouns["animal"]), **_scaled(_spaced(nouns["person"]), 0.8)}
    animate = _scaled(animate, 1 / sum(animate.values()))
    objects = {"animate": animate, "thing": _spaced(zipf(THINGS)), "food": _spaced(zipf(FOODS))}
    ends = {"animate": "animate_end", "thing": "clause_end", "food": "food_end"}
    for kind, table in objects.items():
        # Besides a determiner: a name for an animate object, a bare (mass) noun for food.
        bare = {"animate": _spaced(names), "thing": {}, "food": table}[kind]
        add(f"object:{kind}", _spaced(determiners), f"object_det:{kind}", 0.85 if bare else 1.0)
        add(f"object:{kind}", bare, "clause_end" if kind == "animate" else ends[kind], 0.15)
        add(f"object_det:{kind}", table, ends[kind], 0.80)
        add(f"object_adj:{kind}", table, ends[kind], 0.90)
    # Relative clauses: the animate object does something in turn (any verb of a person).
    add("animate_end", {" that": 0.50}, "relative")
    add("animate_end", CLAUSE_END, _clause_target, 0.50)
    add("relative", _relative_verbs(), _verb_target)
    # Lists of foods.
    add("food_end", {",": 0.25}, "food_item")
    add("food_end", CLAUSE_END, _clause_target, 0.75)
    add("food_item", _spaced(zipf(FOODS)), "food_list_end")
    add("food_list_end", {",": 0.40}, "food_item")
    add("food_list_end", {" and": 0.35}, "food_last")
    add("food_list_end", {".": 0.25}, END)
    add("food_last", _spaced(zipf(FOODS)), "clause_end")
    # Places.
    add("locative", _spaced(zipf(PREPOSITIONS, exponent=1.3)), "place")
    add("place", _spaced(determiners), "place_det")
    add("place_det", adjectives, "place_adj", 0.2)
    add("place_det", _spaced(zipf(PLACES)), "clause_end", 0.8)
    add("place_adj", _spaced(zipf(PLACES)), "clause_end")
    add("clause_end", CLAUSE_END, _clause_target)
    add(END, {EOS: 1.0}, START)
    return rules


CLAUSE_END = {".": 0.72, " and": 0.18, " but": 0.06, " so": 0.04}


def _clause_target(unit: str) -> str:
    return END if unit == "." else "clause_start"


def _verb_target(unit: str) -> str:
    word = unit.strip()
    for kind in ("intransitive", "locative"):
        if word in WORD_CLASSES[kind]:
            return kind
    for kind in ("animate", "thing", "food"):
        if word in WORD_CLASSES[f"transitive_{kind}"]:
            return f"object:{kind}"
    return "was"


def _compile():
    rules = _rules()
    names = [START, *sorted(set(rules) - {START, END}), END]
    units: dict[str, int] = {EOS: 0, ".": 1, ",": 2}
    for state in names:
        for unit in rules[state]:
            units.setdefault(unit, len(units))
    index = {name: i for i, name in enumerate(names)}
    emission = np.zeros((len(names), len(units)))
    transition = np.full((len(names), len(units)), -1, dtype=np.int64)
    for state, row in rules.items():
        for unit, (probability, target) in row.items():
            emission[index[state], units[unit]] = probability
            transition[index[state], units[unit]] = index[target]
    totals = emission.sum(axis=1)
    if not np.allclose(totals, 1.0, rtol=0, atol=1e-12):  # pragma: no cover - a table typo
        bad = [names[i] for i in np.flatnonzero(np.abs(totals - 1) > 1e-12)]
        raise AssertionError(f"the probabilities of states {bad} do not sum to 1")
    emission.setflags(write=False)
    transition.setflags(write=False)
    return tuple(names), tuple(units), emission, transition


STATE_NAMES, UNITS, EMISSION, TRANSITION = _compile()
START_STATE = STATE_NAMES.index(START)
END_STATE = STATE_NAMES.index(END)
EOS_ID = UNITS.index(EOS)
_UNIT_ID = {unit: i for i, unit in enumerate(UNITS)}
_CUMULATIVE = np.cumsum(EMISSION, axis=1)


def _check_unit_ids(unit_ids, name: str = "unit_ids") -> np.ndarray:
    ids = np.asarray(unit_ids)
    if ids.size == 0:
        ids = ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer unit ids (positions in UNITS), got {ids.dtype}.")
    if ids.ndim != 1:
        raise ValueError(f"{name} must be one sequence (1-D), got shape {ids.shape}.")
    bad = (ids < 0) | (ids >= len(UNITS))
    if bad.any():
        raise ValueError(
            f"{name} contains {int(ids[bad][0])}; unit ids run from 0 to {len(UNITS) - 1}."
        )
    return ids.astype(np.int64)


def states_after_units(unit_ids) -> int:
    """The machine's state after reading `unit_ids` (1-D) from the start of a text.

    A sequence the grammar cannot produce raises a `ValueError` naming the
    first impossible unit.
    """
    state = START_STATE
    for position, unit in enumerate(_check_unit_ids(unit_ids).tolist()):
        following = int(TRANSITION[state, unit])
        if following < 0:
            before = text_of_units(_check_unit_ids(unit_ids)[:position]) or "(the start)"
            raise ValueError(
                f"{UNITS[unit]!r} cannot follow {before!r} in the grammar (probability 0)."
            )
        state = following
    return state


def true_next_unit_probs(unit_ids) -> np.ndarray:
    """Exact distribution (len(UNITS),) of the unit after `unit_ids`: the word-level truth.

    An empty sequence means the start of a text.

    >>> probs = true_next_unit_probs(units_of_text("The cat sat"))
    >>> [UNITS[i] for i in np.argsort(-probs)[:3]]
    [' on', ' under', ' near']
    """
    return EMISSION[states_after_units(unit_ids)].copy()


def units_of_text(text: str) -> np.ndarray:
    """Unit ids of a text written in the grammar's units (a leading space on every unit
    but a sentence's first word; ``,`` and ``.`` without one).

    >>> [UNITS[i] for i in units_of_text("The cat sat.")]
    ['The', ' cat', ' sat', '.']
    """
    from utils.tokenizer import bytes_to_unicode, pre_tokenize

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    back = {character: byte for byte, character in bytes_to_unicode().items()}
    ids = []
    for index, part in enumerate(text.split(EOS)):
        if index:
            ids.append(EOS_ID)
        for piece in pre_tokenize(part):
            unit = bytes(back[c] for c in piece).decode("utf-8")
            if unit not in _UNIT_ID:
                raise ValueError(
                    f"{unit!r} is not a unit of the grammar (a word with its leading space, "
                    "a capitalized first word, ',' or '.'); see utils.lm.grammar.UNITS."
                )
            ids.append(_UNIT_ID[unit])
    return np.array(ids, dtype=np.int64)


def text_of_units(unit_ids) -> str:
    return "".join(UNITS[i] for i in np.asarray(unit_ids, dtype=np.int64).tolist())


def sentence_log_prob(unit_ids) -> float:
    """log P(units) under the grammar, read from the start of a text (-inf if impossible)."""
    state, total = START_STATE, 0.0
    for unit in _check_unit_ids(unit_ids).tolist():
        if TRANSITION[state, unit] < 0:
            return -np.inf
        total += float(np.log(EMISSION[state, unit]))
        state = int(TRANSITION[state, unit])
    return total


def sample_sentences(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` sentences, each an int64 array of unit ids ending with ``.`` and `EOS`.

    One uniform number per unit (inverse CDF over the state's fixed table), so
    the same seed gives the same sentences on every platform.
    """
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}.")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {rng!r}.")
    sentences: list[list[int]] = [[] for _ in range(count)]
    states = np.full(count, START_STATE, dtype=np.int64)
    active = np.arange(count)
    while active.size:
        uniforms = rng.random(active.size)
        # Inverse CDF: the number of cumulative probabilities <= u, state by state
        # (a binary search in each state's row, not a (sentences, units) table).
        units = np.empty(active.size, dtype=np.int64)
        active_states = states[active]
        for state in np.unique(active_states).tolist():
            rows = np.flatnonzero(active_states == state)
            units[rows] = np.searchsorted(_CUMULATIVE[state], uniforms[rows], side="right")
        units = np.minimum(units, len(UNITS) - 1)
        impossible = EMISSION[states[active], units] == 0
        while impossible.any():  # rounding at the top of a row: step back to a possible unit
            units[impossible] -= 1
            impossible = EMISSION[states[active], units] == 0
        for sentence_index, unit in zip(active.tolist(), units.tolist(), strict=True):
            sentences[sentence_index].append(unit)
        states[active] = TRANSITION[states[active], units]
        active = active[states[active] != START_STATE]
    return [np.array(sentence, dtype=np.int64) for sentence in sentences]

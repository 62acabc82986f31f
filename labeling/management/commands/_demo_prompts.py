"""The demo campaign's prompts: 24 real-looking requests spanning InstructGPT's use-case categories
(its API mix was generation 45.6 %, open QA 12.4, brainstorming 11.2, chat 8.4, rewrite 6.6,
summarization 4.2, classification 3.5, closed QA 2.6, extraction 1.9, other 3.5). Every category
appears at least once; chat prompts are multi-turn. Eight authors, so the export's split by author
has something to split."""

ARTICLE = (
    "The city council voted 7-2 on Tuesday to convert two downtown parking garages into mixed-use "
    "buildings with 340 apartments, a quarter of them priced below market rate. Supporters said the "
    "garages have averaged 40 percent occupancy since 2021, while opponents worried about parking for "
    "shoppers during the holidays. Construction is expected to begin next spring and take about two years."
)

EMAIL = (
    "Hi team, quick update: the Q3 launch moves from Sept 12 to Sept 26 because the payment provider "
    "needs two more weeks for certification. Marketing should hold the press release; support should "
    "keep the FAQ draft but not publish it. Questions to Dana Whitfield (dana@example.com) by Friday."
)


def user(text):
    return [{"role": "user", "content": text}]


DEMO_PROMPTS = [
    # generation
    {"category": "generation", "author_id": "demo-author-01",
     "messages": user("Write a short, friendly email to my landlord asking if I can paint the living room a light green.")},
    {"category": "generation", "author_id": "demo-author-02",
     "messages": user("Write a four-line poem about the first cold morning of autumn.")},
    {"category": "generation", "author_id": "demo-author-03",
     "messages": user("Write a product description for a stainless steel water bottle that keeps drinks cold for 24 hours.")},
    {"category": "generation", "author_id": "demo-author-04",
     "messages": user("Write the opening paragraph of a mystery story set in a lighthouse.")},
    {"category": "generation", "author_id": "demo-author-05",
     "messages": user("Draft a two-sentence bio for a high-school chemistry teacher who coaches the robotics club.")},
    {"category": "generation", "author_id": "demo-author-06",
     "messages": user("Write a polite message declining a wedding invitation because I will be travelling for work.")},
    # open QA
    {"category": "open_qa", "author_id": "demo-author-07",
     "messages": user("Why is the sky blue during the day but red at sunset?")},
    {"category": "open_qa", "author_id": "demo-author-08",
     "messages": user("What is the difference between a virus and a bacterium?")},
    {"category": "open_qa", "author_id": "demo-author-01",
     "messages": user("How does compound interest work? Explain it to a teenager.")},
    # brainstorming
    {"category": "brainstorming", "author_id": "demo-author-02",
     "messages": user("List five ideas for a rainy-day activity with two kids aged 6 and 9.")},
    {"category": "brainstorming", "author_id": "demo-author-03",
     "messages": user("Suggest some names for a small bakery that specialises in sourdough bread.")},
    {"category": "brainstorming", "author_id": "demo-author-04",
     "messages": user("Give me ideas for staying focused when working from home.")},
    # chat (multi-turn)
    {"category": "chat", "author_id": "demo-author-05", "messages": [
        {"role": "user", "content": "I'm planning a trip to Lisbon in March. Is that a good time to go?"},
        {"role": "assistant", "content": "March is a nice time: mild weather, fewer tourists than summer, and lower prices. Bring a light rain jacket."},
        {"role": "user", "content": "Great. What are three neighbourhoods I should walk around?"},
    ]},
    {"category": "chat", "author_id": "demo-author-06", "messages": [
        {"role": "system", "content": "You are a helpful cooking assistant."},
        {"role": "user", "content": "I have rice, eggs, frozen peas and soy sauce. What can I make?"},
        {"role": "assistant", "content": "You can make egg fried rice. Do you have any oil and garlic?"},
        {"role": "user", "content": "Yes, both. How do I make it?"},
    ]},
    # rewrite
    {"category": "rewrite", "author_id": "demo-author-07",
     "messages": user("Rewrite this sentence to sound more professional: \"hey, the report's gonna be late, sorry, stuff came up\"")},
    {"category": "rewrite", "author_id": "demo-author-08",
     "messages": user("Make this paragraph easier for a ten-year-old to understand: " + ARTICLE)},
    # summarization
    {"category": "summarization", "author_id": "demo-author-01",
     "messages": user("Summarize this news item in one sentence:\n\n" + ARTICLE)},
    {"category": "summarization", "author_id": "demo-author-02",
     "messages": user("Summarize this email as three bullet points:\n\n" + EMAIL)},
    # classification
    {"category": "classification", "author_id": "demo-author-03",
     "messages": user("Is the sentiment of this review positive, negative or mixed? \"The battery lasts forever, but the screen scratches if you look at it.\"")},
    {"category": "classification", "author_id": "demo-author-04",
     "messages": user("Classify each item as a fruit or a vegetable: tomato, carrot, apple, spinach, banana.")},
    # closed QA
    {"category": "closed_qa", "author_id": "demo-author-05",
     "messages": user("According to the text below, how many of the new apartments will be below market rate?\n\n" + ARTICLE)},
    {"category": "closed_qa", "author_id": "demo-author-06",
     "messages": user("Based on this email, who should questions go to, and by when?\n\n" + EMAIL)},
    # extraction
    {"category": "extraction", "author_id": "demo-author-07",
     "messages": user("Extract every date and every person's name from this email as JSON with keys \"dates\" and \"people\":\n\n" + EMAIL)},
    # other
    {"category": "other", "author_id": "demo-author-08",
     "messages": user("Convert 72 degrees Fahrenheit to Celsius and show the formula you used.")},
]

GUIDELINES = """\
# Demo campaign: helpful, honest, harmless

You are helping us teach a small assistant model what good answers look like.

**Demonstrations** — write the answer you would want the assistant to give: correct, complete,
concise, in the tone the user asked for. No more than a few paragraphs.

**Rankings** — read the prompt, then rate each candidate (1 = useless or harmful, 7 = excellent)
and drag them into order, best first. Put two answers in the same group only if you really cannot
prefer one. The demo's outputs stop after about 50 words (sampling on a CPU has to be quick): judge
what is there, not where it was cut. Tick the flags that apply:

- *fails to follow the instruction* — ignores the format, the length or the actual question
- *hallucination* — states facts that are not true or not in the given text
- *inappropriate for a customer assistant*, *harmful advice*, *violent / sexual content*, ...

Tick **none acceptable** when every answer is unusable; still rank them.
Prefer truthfulness and harmlessness over helpfulness when they conflict.
"""

# Used only when `python -m training generate` is unavailable: obviously canned, never mistaken for model output.
CANNED_STYLES = [
    "[canned demo output A — SmolLM2 generation was unavailable] A direct, complete answer would go here, "
    "addressing: {topic}",
    "[canned demo output B — SmolLM2 generation was unavailable] A shorter answer that skips part of the request: "
    "{topic}",
    "[canned demo output C — SmolLM2 generation was unavailable] An answer that drifts off topic instead of "
    "addressing: {topic}",
    "[canned demo output D — SmolLM2 generation was unavailable] An answer containing a made-up fact about: {topic}",
]

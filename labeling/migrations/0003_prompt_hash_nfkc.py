"""Recompute prompts' content hashes with the NFKC + zero-width normalization (issue 8).

The normalization is copied here, frozen, as migrations must not depend on code that may change.
A prompt whose new hash equals another prompt's in the same campaign keeps its old hash: both
were imported as different prompts and stay so; only new imports are compared the new way.
"""
import hashlib
import json
import unicodedata

from django.db import migrations

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"))


def _hash(messages) -> str:
    canonical = [
        [m["role"], " ".join(unicodedata.normalize("NFKC", m["content"]).translate(_INVISIBLE).split())]
        for m in messages
    ]
    return hashlib.sha256(json.dumps(canonical, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def rehash(apps, schema_editor):
    Prompt = apps.get_model("labeling", "Prompt")
    taken = set(Prompt.objects.values_list("campaign_id", "content_hash"))
    changed = []
    for prompt in Prompt.objects.only("id", "campaign_id", "messages", "content_hash").iterator(chunk_size=2000):
        new = _hash(prompt.messages)
        if new != prompt.content_hash and (prompt.campaign_id, new) not in taken:
            taken.add((prompt.campaign_id, new))
            prompt.content_hash = new
            changed.append(prompt)
    Prompt.objects.bulk_update(changed, ["content_hash"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("labeling", "0002_role_groups")]
    operations = [migrations.RunPython(rehash, migrations.RunPython.noop)]

"""API tokens with a lifetime, several per user, stored hashed (issue 8).

DRF's one-per-user ``authtoken`` tokens are not carried over (only their keys' hashes would be
stored now, and they had no lifetime): scripts ask ``POST /auth/token`` for a new one.
"""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0003_prompt_hash_nfkc"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_hash", models.CharField(max_length=64, unique=True)),
                ("prefix", models.CharField(help_text="The key's first characters, to tell tokens apart.", max_length=8)),
                ("name", models.CharField(blank=True, max_length=100)),
                ("password_fingerprint", models.CharField(max_length=128)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField(db_index=True)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens",
                                           to=settings.AUTH_USER_MODEL)),
            ],
        ),
    ]

"""Create the three role groups (labeling.roles). A data migration, not a post_migrate signal,
so the groups exist on every database exactly once and tests get them for free."""

from django.db import migrations

ROLES = ("labeler", "campaign_admin", "researcher")  # frozen copy of labeling.roles.ALL_ROLES


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]

# Job kind "import": large prompt files are imported by a default-queue job (labeling.jobs.import_job).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0007_label_review_gold_qualification'),
    ]

    operations = [
        migrations.AlterField(
            model_name='job',
            name='kind',
            field=models.CharField(choices=[('sft', 'Sft'), ('reward', 'Reward'), ('ppo', 'Ppo'), ('dpo', 'Dpo'), ('generate', 'Generate'), ('evaluate', 'Evaluate'), ('export', 'Export'), ('score', 'Score'), ('import', 'Import')], max_length=16),
        ),
    ]

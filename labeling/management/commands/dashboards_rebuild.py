"""``manage.py dashboards_rebuild [--reports]``: recount the progress aggregates from the labels (after a
bulk load such as ``generate_scale_data``, or to check the sweep), and optionally recompute every stored
quality report and leaderboard in this process."""
import time

from django.core.management.base import BaseCommand

from labeling.models import DashboardReport
from labeling.services.dashboard_reports import report_refresh
from labeling.services.dashboards import progress_rebuild


class Command(BaseCommand):
    help = "Rebuild the dashboards' progress aggregates (and, with --reports, the stored reports) from scratch."

    def add_arguments(self, parser):
        parser.add_argument("--reports", action="store_true", help="also recompute every stored report here")

    def handle(self, *args, reports=False, **options):
        started = time.perf_counter()
        done = progress_rebuild()
        self.stdout.write(f"progress aggregates rebuilt: {done['blocks']} task blocks "
                          f"in {time.perf_counter() - started:.1f} s")
        if reports:
            for key in DashboardReport.objects.values_list("key", flat=True):
                seconds = report_refresh(key=key)
                self.stdout.write(f"{key}: {'dropped' if seconds is None else f'{seconds:.1f} s'}")

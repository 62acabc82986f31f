"""The three roles are Django groups (staff users pass every role check).

Kept in one tiny module so models-free code (permissions, services, the data migration's
docstring) agrees on the spelling.
"""

LABELER = "labeler"
CAMPAIGN_ADMIN = "campaign_admin"
RESEARCHER = "researcher"
ALL_ROLES = (LABELER, CAMPAIGN_ADMIN, RESEARCHER)

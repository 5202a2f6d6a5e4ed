from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy
from django.views.generic import RedirectView

from rentals.admin.telegram import telegram_connect_view
from rentals.api import api
from rentals.two_factor import two_factor_view

admin.site.site_header = "Rentdesk"
admin.site.site_title = "Rentdesk"
admin.site.index_title = gettext_lazy("Rented numbers and provider accounts")
# The inventory needs the width more than a second copy of the index beside it (1400-pixel screens).
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Before the admin's own URLs, whose catch-all would answer 404 for it.
    path("admin/two-factor/", two_factor_view, name="two_factor"),
    path("admin/telegram/", telegram_connect_view, name="telegram_connect"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
    path("", include("rentals.urls")),
]

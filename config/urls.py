from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from rentals.api import api

admin.site.site_header = "Rentdesk"
admin.site.site_title = "Rentdesk"
admin.site.index_title = "Rented numbers and provider accounts"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
    path("", include("rentals.urls")),
]

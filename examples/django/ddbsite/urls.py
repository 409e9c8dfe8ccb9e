from django.urls import path

from items import views

urlpatterns = [
    path("healthz", views.healthz),
    path("items/<str:table>/<str:key>", views.get_item),
]

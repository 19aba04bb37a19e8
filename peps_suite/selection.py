"""Saved selections: footprints files, --json answers and product records read back."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .catalogue import PepsResto, Product, Provider, SearchResult, collection_of
from .errors import BadInput
from .files import read_user_file
from .http import Client


def footprints_collection(products: Iterable[Product]) -> dict[str, Any]:
    """The selected products as a GeoJSON FeatureCollection."""
    features = []
    for product in products:
        props = product.record()
        props.update({"identifier": product.name, "productIdentifier": product.name,
                      "title": product.name})
        features.append({"type": "Feature", "id": product.id, "geometry": product.geometry,
                         "properties": props})
    return {"type": "FeatureCollection", "features": features}


def load_selection(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Names, ids and collections of the products of a saved selection."""
    path = Path(path)
    hint = "give a file written by --json or --footprints"
    try:
        data = json.loads(read_user_file(path, f"--from {path}", hint))
    except ValueError:
        raise BadInput(f"--from: {path} is not a JSON file; {hint}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise BadInput(f"--from: {path} is not a FeatureCollection; give a file written by "
                       "--json or --footprints")
    entries = []
    for feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        name = next((props[k] for k in ("productIdentifier", "identifier", "title", "name")
                     if isinstance(props.get(k), str) and props[k]), None)
        if not name:
            raise BadInput(f"--from: {path} has a feature without a product name "
                           "(productIdentifier)")
        ident = feature.get("id") if isinstance(feature.get("id"), (str, int)) else props.get("id")
        entries.append({"name": name, "id": str(ident) if ident else "",
                        "collection": str(props.get("collection") or collection_of(name))})
    return entries


def products_from_selection(client: Client, path: str | os.PathLike[str],
                            provider: Provider | None = None) -> SearchResult:
    """Look every product of a saved selection up in the catalogue (current storage),
    through ``provider`` (PEPS's by default)."""
    return (provider or PepsResto(client)).resolve(load_selection(path))


def products_from_records(client: Client, records: Iterable[dict[str, Any]],
                          provider: Provider | None = None) -> SearchResult:
    """Look product records (of ``search_products``) up in the catalogue again."""
    entries = []
    for record in records:
        name = record.get("name") if isinstance(record, dict) else None
        if not isinstance(name, str) or not name:
            raise BadInput("a product record without a 'name' was given to download_products")
        entries.append({"name": name, "id": str(record.get("id") or ""),
                        "collection": str(record.get("collection") or collection_of(name))})
    return (provider or PepsResto(client)).resolve(entries)

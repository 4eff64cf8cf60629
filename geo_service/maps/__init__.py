"""Map pages built with folium: pure functions from results to HTML, testable without HTTP.

``hotspot_map.hotspot_map_html`` draws a study's cells; ``area_map.area_map_html`` a choropleth;
``assets`` serves the vendored Leaflet; ``styling`` holds the colours, classes and elements.
"""

// Progressive enhancement lands with the browser issue; the form works without JavaScript.

// Stylesheets imported for their side effect: Bun's bundler emits them as main.css.
declare module "*.css";

import './styles.css';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { createPlatform } from './platform/index.js';
import { applyTheme, readThemeChoice, THEME_KEY } from './state/theme.js';

// Before the first paint: a light-theme user never sees a dark flash.
applyTheme(document.documentElement, readThemeChoice(localStorage.getItem(THEME_KEY)));

const root = document.getElementById('root');
if (root) createRoot(root).render(<App platform={createPlatform()} />);

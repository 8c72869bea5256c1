import './styles.css';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { createPlatform } from './platform/index.js';

const root = document.getElementById('root');
if (root) createRoot(root).render(<App platform={createPlatform()} />);

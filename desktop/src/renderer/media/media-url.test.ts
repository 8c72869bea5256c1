import { describe, expect, it } from 'vitest';
import { mediaUrlProblem } from './media-url.js';

describe('mediaUrlProblem', () => {
  it('accepts http and https image URLs', () => {
    expect(mediaUrlProblem('https://mirror.example.com/debian-13.iso')).toBeNull();
    expect(mediaUrlProblem('  http://10.0.0.5:8080/images/x.iso ')).toBeNull();
  });
  it('says what is wrong with anything else', () => {
    expect(mediaUrlProblem('')).toBe('Enter the image URL.');
    expect(mediaUrlProblem('mirror/x.iso')).toBe('Not a URL.');
    expect(mediaUrlProblem('ftp://mirror.example.com/x.iso')).toBe('Only http:// and https:// URLs.');
    expect(mediaUrlProblem('https://user:secret@mirror.example.com/x.iso')).toBe('No user name or password in the URL.');
  });
});

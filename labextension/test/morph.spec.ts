import { morph } from '../src/morph';

function html(text: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = text;
  return div.firstElementChild as HTMLElement;
}

describe('morph', () => {
  it('patches text and attributes in place, keeping nodes', () => {
    const target = html('<div a="1"><button data-x="1">old</button><span>s</span></div>');
    const button = target.querySelector('button');
    morph(target, html('<div b="2"><button data-y="2">new</button></div>'));
    expect(target.querySelector('button')).toBe(button);
    expect(button!.textContent).toBe('new');
    expect(button!.getAttribute('data-x')).toBeNull();
    expect(button!.getAttribute('data-y')).toBe('2');
    expect(target.getAttribute('a')).toBeNull();
    expect(target.getAttribute('b')).toBe('2');
    expect(target.querySelector('span')).toBeNull();
  });

  it('replaces nodes of another kind and adds new ones', () => {
    const target = html('<div><p>1</p></div>');
    morph(target, html('<div><section>1</section><p>2</p></div>'));
    expect(target.innerHTML).toBe('<section>1</section><p>2</p>');
  });
});

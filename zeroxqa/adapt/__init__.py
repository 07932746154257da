"""What a domain ships after adaptation, and the adaptations themselves: the decision between the adapted
reader, the base and the current model on the same questions (`decision`, paired bootstrap), a no-answer
threshold fitted to the domain (`threshold`), k-fold cross-fitting over few labels (`crossfit`), one
K-shot cell of `adapt-eval` (`kshot`), the flows' decide stage (`ship`); masked-LM adaptation on the
domain's text (`lm`) and weight-space interpolation of two readers (`average`, WiSE-FT)."""

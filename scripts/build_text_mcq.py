"""Write data/demo/text_mcq.jsonl: 40 four-option medical multiple-choice questions written for
this project (CC0 1.0), the gold option placed at A, B, C, D in turn (data/demo/PROVENANCE.md).

    python scripts/build_text_mcq.py
"""
import json
from pathlib import Path
Q = [
 ("Which organ produces insulin?", "pancreas", ["liver", "spleen", "kidney"]),
 ("Which blood cells carry oxygen?", "red blood cells", ["platelets", "neutrophils", "lymphocytes"]),
 ("Which chamber of the heart pumps blood into the aorta?", "left ventricle", ["right atrium", "right ventricle", "left atrium"]),
 ("Which vitamin deficiency causes scurvy?", "vitamin C", ["vitamin A", "vitamin D", "vitamin K"]),
 ("Which bone is in the upper arm?", "humerus", ["femur", "tibia", "radius"]),
 ("Where is bile stored?", "gallbladder", ["stomach", "bladder", "appendix"]),
 ("Which gas is exchanged for carbon dioxide in the alveoli?", "oxygen", ["nitrogen", "helium", "methane"]),
 ("Which gland sits below the larynx and makes thyroxine?", "thyroid", ["adrenal", "pituitary", "parotid"]),
 ("What is the normal adult resting heart rate range in beats per minute?", "60 to 100", ["20 to 40", "120 to 160", "180 to 220"]),
 ("Which part of the brain coordinates balance and fine movement?", "cerebellum", ["frontal lobe", "hypothalamus", "corpus callosum"]),
 ("Which organ filters blood to make urine?", "kidney", ["lung", "liver", "spleen"]),
 ("Which vessel carries blood from the lungs to the heart?", "pulmonary vein", ["pulmonary artery", "aorta", "vena cava"]),
 ("Which mineral is most abundant in bone?", "calcium", ["iron", "sodium", "zinc"]),
 ("Which imaging test uses strong magnets and radio waves?", "MRI", ["X-ray", "CT", "PET"]),
 ("Which muscle separates the chest from the abdomen?", "diaphragm", ["deltoid", "psoas", "trapezius"]),
 ("What do antibiotics treat?", "bacterial infections", ["viral colds", "broken bones", "allergies"]),
 ("Which organ is the largest internal organ of the body?", "liver", ["heart", "brain", "stomach"]),
 ("Which hormone lowers blood glucose?", "insulin", ["glucagon", "cortisol", "adrenaline"]),
 ("Which structure connects the stomach to the mouth?", "esophagus", ["trachea", "duodenum", "ureter"]),
 ("Which cells fight infection as part of the immune system?", "white blood cells", ["red blood cells", "platelets", "epithelial cells"]),
 ("Which bone protects the brain?", "skull", ["sternum", "pelvis", "scapula"]),
 ("Which organ absorbs most nutrients from food?", "small intestine", ["large intestine", "stomach", "esophagus"]),
 ("Which valve lies between the left atrium and left ventricle?", "mitral valve", ["tricuspid valve", "pulmonary valve", "aortic valve"]),
 ("Which vitamin is made in the skin in sunlight?", "vitamin D", ["vitamin B12", "vitamin C", "vitamin E"]),
 ("What does an electrocardiogram record?", "electrical activity of the heart", ["brain waves", "lung volumes", "blood sugar"]),
 ("Which tube carries urine from the kidney to the bladder?", "ureter", ["urethra", "vas deferens", "bile duct"]),
 ("Which organ stores and concentrates urine?", "bladder", ["gallbladder", "kidney", "prostate"]),
 ("Which blood type is the universal red cell donor?", "O negative", ["AB positive", "A positive", "B negative"]),
 ("Which part of the eye focuses light onto the retina?", "lens", ["iris", "sclera", "optic nerve"]),
 ("Which organ makes bile?", "liver", ["gallbladder", "pancreas", "spleen"]),
 ("Which joint connects the thigh bone to the pelvis?", "hip", ["knee", "ankle", "shoulder"]),
 ("Which nerve carries vision from the eye to the brain?", "optic nerve", ["vagus nerve", "facial nerve", "sciatic nerve"]),
 ("What is the main function of platelets?", "blood clotting", ["carrying oxygen", "making antibodies", "digesting fat"]),
 ("Which organ is attacked in hepatitis?", "liver", ["lung", "heart", "kidney"]),
 ("Which airway branches enter each lung?", "bronchi", ["ureters", "arteries of the arm", "sinuses"]),
 ("Which imaging test uses X-rays taken around the body to make cross-sections?", "CT", ["ultrasound", "MRI", "endoscopy"]),
 ("Which organ contains the alveoli?", "lung", ["liver", "kidney", "heart"]),
 ("Which bone is the longest in the human body?", "femur", ["humerus", "fibula", "clavicle"]),
 ("Which condition is a high blood glucose from too little insulin?", "diabetes mellitus", ["anemia", "asthma", "gout"]),
 ("Which organ pumps blood through the body?", "heart", ["lung", "liver", "spleen"]),
]
L = "ABCD"
with open(Path(__file__).resolve().parents[1] / "data" / "demo" / "text_mcq.jsonl", "w") as f:
    for i, (q, gold, wrong) in enumerate(Q):
        pos = i % 4
        opts = list(wrong); opts.insert(pos, gold)
        options = dict(zip(L, opts))
        user = q + "\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
        f.write(json.dumps({"id": f"text-mcq-{i:02d}", "messages": [
            {"role": "user", "content": [{"type": "text", "text": user}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"{L[pos]}. {gold}"}]}],
            "meta": {"question_type": "mcq", "options": options, "answer": L[pos]},
            "license": "CC0-1.0 (written for this project)"}) + "\n")
print(len(Q))
